package worker

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
)

// failureCounter counts activity failures by activity and kind, so a spike
// of provider errors shows on a dashboard before it shows on users:
// idv_activity_failures_total{activity, kind}, kind being the application
// error type of a permanent failure (ProviderAPIError, NotifyRefused, …) or
// "retryable".
type failureCounter struct {
	interceptor.WorkerInterceptorBase
}

func (*failureCounter) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &failureCounterActivity{}
	i.Next = next
	return i
}

type failureCounterActivity struct {
	interceptor.ActivityInboundInterceptorBase
}

func (i *failureCounterActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	out, err := i.Next.ExecuteActivity(ctx, in)
	if err != nil {
		kind := "retryable"
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NonRetryable() {
			kind = appErr.Type()
		}
		activity.GetMetricsHandler(ctx).WithTags(map[string]string{
			"activity": activity.GetInfo(ctx).ActivityType.Name, "kind": kind,
		}).Counter("idv_activity_failures").Inc(1)
	}
	return out, err
}
