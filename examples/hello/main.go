// Command hello is the seed app's hello function in Go, plus a multi-step
// job that reports its progress. It runs errand embedded, on a throwaway
// SQLite database, and prints what happens:
//
//	go run ./examples/hello
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/errand-dev/errand"
)

// HelloData is the data of an app/hello event.
type HelloData struct {
	Name string `json:"name"`
}

// ReportData is the data of an app/report.requested event.
type ReportData struct {
	Months int `json:"months"`
}

// hello logs a greeting, like the seed's Inngest function.
var hello = errand.NewFunction(errand.FunctionOpts{ID: "hello", Name: "Hello"}, errand.OnEvent("app/hello"),
	func(ctx context.Context, in errand.Input[HelloData]) (string, error) {
		msg := fmt.Sprintf("Hello, %s!", in.Event.Data.Name)
		log.Println(msg)
		return msg, nil
	})

// report builds a report month by month: one memoized step per month, with
// progress reported after each.
var report = errand.NewFunction(errand.FunctionOpts{ID: "report", Name: "Monthly report"}, errand.OnEvent("app/report.requested"),
	func(ctx context.Context, in errand.Input[ReportData]) (map[string]int, error) {
		total := 0
		for m := 1; m <= in.Event.Data.Months; m++ {
			sales, err := errand.Run(ctx, fmt.Sprintf("month-%d", m), func(ctx context.Context) (int, error) {
				time.Sleep(100 * time.Millisecond) // stand-in for real work
				return 1000 * m, nil
			})
			if err != nil {
				return nil, err
			}
			total += sales
			if err := errand.Progress(ctx, float64(m)/float64(in.Event.Data.Months), fmt.Sprintf("month %d of %d done", m, in.Event.Data.Months)); err != nil {
				return nil, err
			}
		}
		if err := errand.Sleep(ctx, "cool-down", 200*time.Millisecond); err != nil {
			return nil, err
		}
		return map[string]int{"months": in.Event.Data.Months, "total": total}, nil
	})

func main() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "errand-hello-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	client, err := errand.NewClient(ctx, &errand.Config{
		DataDir:   dir,
		Functions: []*errand.Function{hello, report},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	if err := client.Start(ctx); err != nil {
		log.Fatal(err)
	}

	// 1. The seed's hello: send app/hello, the function greets.
	ids, err := client.Send(ctx, errand.Event[HelloData]{Name: "app/hello", Data: HelloData{Name: "Ada"}})
	if err != nil {
		log.Fatal(err)
	}
	jobs, err := client.JobsForEvent(ctx, ids[0])
	if err != nil || len(jobs) != 1 {
		log.Fatalf("hello started %d jobs: %v", len(jobs), err)
	}
	j, err := client.WaitJob(ctx, jobs[0])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("hello job %s: %s, output %s\n", j.ID, j.Status, j.Output)

	// 2. A multi-step job; watch its progress until it ends.
	ids, err = client.Send(ctx, errand.Event[ReportData]{Name: "app/report.requested", Data: ReportData{Months: 4}})
	if err != nil {
		log.Fatal(err)
	}
	jobs, err = client.JobsForEvent(ctx, ids[0])
	if err != nil || len(jobs) != 1 {
		log.Fatalf("report started %d jobs: %v", len(jobs), err)
	}
	last := ""
	for {
		j, err = client.Job(ctx, jobs[0])
		if err != nil {
			log.Fatal(err)
		}
		line := fmt.Sprintf("report job: %-8s %3.0f%% %s", j.Status, j.Progress*100, j.ProgressMessage)
		if line != last {
			fmt.Println(line)
			last = line
		}
		if j.Status == errand.StatusFinished || j.Status == errand.StatusFailed {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("report output: %s\n", j.Output)
	steps, err := client.Steps(ctx, j.ID)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range steps {
		fmt.Printf("  step %-10s %-6s %s\n", s.Name, s.Kind, s.Status)
	}
	if j.Status != errand.StatusFinished {
		os.Exit(1)
	}
}
