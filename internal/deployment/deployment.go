// Package deployment moves a Worker Deployment's current version: the
// step of a rollout (or a rollback) once the new build's workers run.
package deployment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// SetCurrent makes build the current version of deployment; an empty
// build sends new work to unversioned workers again. The server knows a
// version only once its workers have polled, so a version it does not
// know yet is tried again until ctx ends.
func SetCurrent(ctx context.Context, c client.Client, deployment, build string) error {
	h := c.WorkerDeploymentClient().GetHandle(deployment)
	for {
		_, err := h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{BuildID: build})
		var notFound *serviceerror.NotFound
		var precondition *serviceerror.FailedPrecondition
		if err == nil || !(errors.As(err, &notFound) || errors.As(err, &precondition)) {
			if err != nil {
				return fmt.Errorf("set current version of %s to %q: %w", deployment, build, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("set current version of %s to %q: %w (have its workers started?)", deployment, build, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
