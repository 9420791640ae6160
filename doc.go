// Package errand is the Go SDK of errand, a self-hosted system for
// background jobs that run on behalf of signed-in users.
//
// A Client either embeds the engine in your process (like River: jobs run
// in your binary, state in SQLite or your PostgreSQL) or talks to an errand
// server over HTTP. Functions are typed with generics:
//
//	type Hello struct{ Name string `json:"name"` }
//
//	hello := errand.NewFunction(errand.FunctionOpts{ID: "hello"}, errand.OnEvent("app/hello"),
//		func(ctx context.Context, in errand.Input[Hello]) (string, error) {
//			return "Hello, " + in.Event.Data.Name + "!", nil
//		})
//
//	client, err := errand.NewClient(ctx, &errand.Config{Functions: []*errand.Function{hello}})
//	...
//	ids, err := client.Send(ctx, errand.Event[Hello]{Name: "app/hello", Data: Hello{Name: "Ada"}})
//
// Inside a function, step tools (Run, Sleep, SleepUntil, WaitForEvent,
// SendEvent, Invoke) make work durable: a step that finished is never run
// again, across retries, restarts and crashes. Progress reports how far a
// job has got, for the user watching it.
//
// Client.Handler serves errand's HTTP API to mount in your own server; with
// Config.JWTSecret it adds the accounts API (/auth/v1) and the dashboard at
// /, where users sign in and watch their jobs live and admins see
// everything.
package errand
