package errand_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/errand-dev/errand"
)

// The seed app's hello function, embedded: send an event, a job runs it.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "errand-example-")
	defer os.RemoveAll(dir)

	type Hello struct {
		Name string `json:"name"`
	}
	hello := errand.NewFunction(errand.FunctionOpts{ID: "hello"}, errand.OnEvent("app/hello"),
		func(ctx context.Context, in errand.Input[Hello]) (string, error) {
			return "Hello, " + in.Event.Data.Name + "!", nil
		})

	client, err := errand.NewClient(ctx, &errand.Config{DataDir: dir, Functions: []*errand.Function{hello}})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	if err := client.Start(ctx); err != nil {
		panic(err)
	}

	ids, _ := client.Send(ctx, errand.Event[Hello]{Name: "app/hello", Data: Hello{Name: "Ada"}})
	jobs, _ := client.JobsForEvent(ctx, ids[0])
	job, _ := client.WaitJob(ctx, jobs[0])
	fmt.Println(job.Status, string(job.Output))
	// Output: finished "Hello, Ada!"
}

// Steps make a job durable: each finished step is stored and never runs
// again, and Progress tells the user how far the job has got.
func ExampleRun() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "errand-example-")
	defer os.RemoveAll(dir)

	export := errand.NewFunction(errand.FunctionOpts{ID: "export"}, errand.OnEvent("app/export.requested"),
		func(ctx context.Context, in errand.Input[struct{}]) (int, error) {
			rows, err := errand.Run(ctx, "query", func(ctx context.Context) (int, error) { return 1200, nil })
			if err != nil {
				return 0, err
			}
			if err := errand.Progress(ctx, 0.5, "queried"); err != nil {
				return 0, err
			}
			if err := errand.Sleep(ctx, "rate-limit", 10*time.Millisecond); err != nil {
				return 0, err
			}
			return errand.Run(ctx, "upload", func(ctx context.Context) (int, error) { return rows, nil })
		})

	client, err := errand.NewClient(ctx, &errand.Config{DataDir: dir, Functions: []*errand.Function{export}})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	_ = client.Start(ctx)

	ids, _ := client.Send(ctx, errand.Event[struct{}]{Name: "app/export.requested"})
	jobs, _ := client.JobsForEvent(ctx, ids[0])
	job, _ := client.WaitJob(ctx, jobs[0])
	steps, _ := client.Steps(ctx, job.ID)
	fmt.Println(job.Status, string(job.Output), job.ProgressMessage)
	for _, s := range steps {
		fmt.Println(s.Name, s.Kind, s.Status)
	}
	// Output:
	// finished 1200 queried
	// query run done
	// rate-limit sleep done
	// upload run done
}
