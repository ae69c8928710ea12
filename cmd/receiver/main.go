// Command receiver serves the provider webhooks and signals each session's
// workflow in Temporal. Configuration comes from the environment; see the
// README for every variable. "receiver healthcheck" probes a running one.
package main

import (
	"github.com/idvflow/idvflow/internal/cli"
	"github.com/idvflow/idvflow/internal/logging"
	"github.com/idvflow/idvflow/receiver"
)

func main() {
	cli.Binary[receiver.ServerConfig]{
		Name:          "receiver",
		HealthAddrVar: "IDV_HTTP_ADDR", HealthAddrDefault: ":8080", HealthTLSVar: "IDV_TLS_CERT_FILE",
		Log: func(c *receiver.ServerConfig) logging.Config { return c.Log },
		Run: receiver.Run,
	}.Main()
}
