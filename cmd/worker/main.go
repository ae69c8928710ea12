// Command worker runs the verification workflows and activities, and serves
// the admin API. Configuration comes from the environment; see the README
// for every variable. "worker healthcheck" probes a running one.
package main

import (
	"github.com/idvflow/idvflow/internal/cli"
	"github.com/idvflow/idvflow/internal/logging"
	"github.com/idvflow/idvflow/worker"
)

func main() {
	cli.Binary[worker.Config]{
		Name:          "worker",
		HealthAddrVar: "IDV_ADMIN_ADDR", HealthAddrDefault: "127.0.0.1:8081", HealthTLSVar: "IDV_ADMIN_TLS_CERT",
		Log: func(c *worker.Config) logging.Config { return c.Log },
		Run: worker.Run,
	}.Main()
}
