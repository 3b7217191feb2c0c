package vsphere

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Error is a failed vSphere call or task, as one line: the operation, the
// object and the fault. The caller adds the phase.
type Error struct {
	Op, Object string
	Fault      *types.LocalizedMethodFault // a task's fault
	Err        error                       // a call's error (SOAP fault, network)
}

func (e *Error) Error() string {
	var text string
	if e.Fault != nil {
		text = localizedFaultText(e.Fault)
	} else {
		text = FaultText(e.Err)
	}
	return fmt.Sprintf("%s %s: %s", e.Op, e.Object, text)
}

func (e *Error) Unwrap() error { return e.Err }

// MethodFault is the vSphere fault, if any.
func (e *Error) MethodFault() types.BaseMethodFault {
	if e.Fault != nil {
		return e.Fault.Fault
	}
	var hf interface{ Fault() types.BaseMethodFault }
	if errors.As(e.Err, &hf) {
		return hf.Fault()
	}
	return nil
}

func faultName(f types.BaseMethodFault) string {
	if f == nil {
		return ""
	}
	t := reflect.TypeOf(f)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// FaultText is a SOAP fault's message and type, or the error.
func FaultText(err error) string {
	if err == nil {
		return ""
	}
	var hf interface{ Fault() types.BaseMethodFault }
	if !errors.As(err, &hf) {
		return err.Error()
	}
	msg := ""
	if soap.IsSoapFault(err) {
		msg = soap.ToSoapFault(err).String
	}
	return faultLine(msg, hf.Fault())
}

func localizedFaultText(f *types.LocalizedMethodFault) string {
	return faultLine(f.LocalizedMessage, f.Fault)
}

// faultLine is "message (FaultType)" plus what the fault means for an MT.
func faultLine(msg string, f types.BaseMethodFault) string {
	name := faultName(f)
	// vcsim puts the Go type ("*types.InvalidState") in the message.
	if strings.HasPrefix(msg, "*types.") || msg == name {
		msg = ""
	}
	if f != nil {
		if mf := f.GetMethodFault(); mf != nil {
			for _, m := range mf.FaultMessage {
				if m.Message != "" && !strings.Contains(msg, m.Message) {
					msg = strings.TrimSpace(msg + " " + m.Message)
				}
			}
		}
	}
	switch x := f.(type) {
	case *types.InvalidPowerState:
		msg = strings.TrimSpace(fmt.Sprintf("%s the VM is %s, the operation needs %s", msg, x.ExistingState, x.RequestedState))
	case *types.RestrictedVersion:
		msg = strings.TrimSpace(msg + " the ESXi host's license (the free edition) does not allow changes through the API; ASR failback needs a licensed host")
	case *types.FileAlreadyExists:
		msg = strings.TrimSpace(msg + " " + x.File)
	case *types.FileNotFound:
		msg = strings.TrimSpace(msg + " " + x.File)
	}
	switch {
	case name == "":
		return msg
	case msg == "":
		return name
	}
	return msg + " (" + name + ")"
}

// IsFault reports whether err carries a vSphere fault of type F.
func IsFault[F types.BaseMethodFault](err error) bool {
	var ve *Error
	if errors.As(err, &ve) {
		_, ok := ve.MethodFault().(F)
		return ok
	}
	var hf interface{ Fault() types.BaseMethodFault }
	if errors.As(err, &hf) {
		_, ok := hf.Fault().(F)
		return ok
	}
	return false
}
