package vsphere

import (
	"context"
	"fmt"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// RetrieveOne reads props of one object into dst (a mo type) in one
// PropertyCollector call.
func (s *Session) RetrieveOne(ctx context.Context, ref types.ManagedObjectReference, props []string, dst any) error {
	res, err := methods.RetrieveProperties(ctx, s.Client, &types.RetrieveProperties{
		This: s.Client.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{
			ObjectSet: []types.ObjectSpec{{Obj: ref}},
			PropSet:   []types.PropertySpec{{Type: ref.Type, PathSet: props}},
		}},
	})
	if err != nil {
		return err
	}
	return mo.LoadObjectContent(res.Returnval, dst)
}

// Task runs a vSphere task and waits for it. Its info is polled with one
// PropertyCollector call each time, with a growing interval: for the short
// tasks here that is fewer round trips than a WaitForUpdates filter
// (create, wait, destroy). A task fault becomes one line naming the
// operation, the object and the fault (an *Error). onPoll, when set, runs
// between polls (the eject answers a locked-tray question there).
func (s *Session) Task(ctx context.Context, op, obj string, start func() (*object.Task, error), onPoll func(context.Context) error) (*types.TaskInfo, error) {
	t, err := start()
	if err != nil {
		return nil, &Error{Op: op, Object: obj, Err: err}
	}
	interval := 5 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s %s: %w (the vSphere task %s may still be running)", op, obj, ctx.Err(), t.Reference().Value)
		case <-time.After(interval):
		}
		var mt mo.Task
		if err := s.RetrieveOne(ctx, t.Reference(), []string{"info"}, &mt); err != nil {
			return nil, &Error{Op: op, Object: obj, Err: err}
		}
		switch mt.Info.State {
		case types.TaskInfoStateSuccess:
			return &mt.Info, nil
		case types.TaskInfoStateError:
			return nil, &Error{Op: op, Object: obj, Fault: mt.Info.Error}
		}
		if onPoll != nil {
			if err := onPoll(ctx); err != nil {
				return nil, err
			}
		}
		interval = min(interval*2, time.Second)
	}
}
