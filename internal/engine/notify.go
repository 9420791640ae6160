package engine

import "sync"

// watchers fan out the ids of jobs this process changed, so live streams
// can re-read them at once instead of waiting for their next poll.
type watchers struct {
	mu   sync.Mutex
	subs map[chan string]struct{}
}

// Watch returns a channel of ids of jobs changed by this process (it may
// drop ids when the reader is slow; readers also poll) and a function to
// stop watching.
func (e *Engine) Watch() (<-chan string, func()) {
	ch := make(chan string, 64)
	e.watch.mu.Lock()
	if e.watch.subs == nil {
		e.watch.subs = map[chan string]struct{}{}
	}
	e.watch.subs[ch] = struct{}{}
	e.watch.mu.Unlock()
	return ch, func() {
		e.watch.mu.Lock()
		delete(e.watch.subs, ch)
		e.watch.mu.Unlock()
	}
}

func (e *Engine) changed(ids ...string) {
	e.watch.mu.Lock()
	defer e.watch.mu.Unlock()
	for ch := range e.watch.subs {
		for _, id := range ids {
			select {
			case ch <- id:
			default:
			}
		}
	}
}
