package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/registry"
)

// Broker is what the data plane needs from the MQTT broker. The api package never imports
// the broker: the emulator passes an adapter (emulator/broker.go), tests pass a fake.
type Broker interface {
	// Publish sends a message as if a client had published it: MQTT 5 properties reach MQTT 5
	// subscribers, each delivery passes the subscriber's iot:Receive check, a retained message
	// with an empty payload deletes the retained message of its topic.
	Publish(ctx context.Context, m Message) error
	// Retained returns the retained message of a topic.
	Retained(topic string) (RetainedMessage, bool)
	// ListRetained returns every retained message, sorted by topic.
	ListRetained() []RetainedMessage
	// DeleteConnection disconnects the live MQTT connection of clientID (MQTT 5 clients get a
	// DISCONNECT with reason 0x98, administrative action), without its will when preventWill,
	// and drops its persistent session when cleanSession. The disconnect's cause is an
	// *APIInitiatedDisconnect. It returns ErrNoSuchClient when the client is not connected.
	DeleteConnection(clientID string, cleanSession, preventWill bool) error
}

// Message is a publication made through the HTTP API.
type Message struct {
	Topic             string
	Payload           []byte
	QoS               byte
	Retain            bool
	ContentType       string
	ResponseTopic     string
	CorrelationData   []byte
	MessageExpiry     uint32 // seconds; 0: does not expire
	PayloadFormatUTF8 bool
	UserProperties    [][2]string // key, value; in order, repeats allowed
}

// RetainedMessage is a message the broker keeps for its topic.
type RetainedMessage struct {
	Topic          string
	Payload        []byte
	QoS            byte
	LastModified   time.Time
	UserProperties [][2]string
}

// ErrNoSuchClient is returned by Broker.DeleteConnection when no live connection has the
// client ID; the API answers ResourceNotFoundException.
var ErrNoSuchClient = errors.New("no connected client with that client id")

// APIInitiatedDisconnect is the cause recorded on a connection closed by DeleteConnection, so
// that the lifecycle event reports disconnectReason API_INITIATED_DISCONNECT. Code that cannot
// import this package can match it by behaviour: errors.As(cause, &x) with
// x of type interface{ DisconnectReason() string }.
type APIInitiatedDisconnect struct {
	CleanSession, PreventWill bool
}

func (e *APIInitiatedDisconnect) Error() string {
	return fmt.Sprintf("disconnected by the DeleteConnection API (cleanSession=%t, preventWillMessage=%t)", e.CleanSession, e.PreventWill)
}

// DisconnectReason is the lifecycle event's disconnectReason for this cause.
func (e *APIInitiatedDisconnect) DisconnectReason() string { return "API_INITIATED_DISCONNECT" }

// Data-plane exceptions, as the iot-data model names them.
func forbidden(format string, args ...any) *apiError {
	return &apiError{status: http.StatusForbidden, name: "ForbiddenException", message: fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, name: "RequestEntityTooLargeException", message: fmt.Sprintf(format, args...)}
}

func unavailable(format string, args ...any) *apiError {
	return &apiError{status: http.StatusServiceUnavailable, name: "ServiceUnavailableException", message: fmt.Sprintf(format, args...)}
}

// broker returns the configured broker, or the 503 the data plane answers without one.
func (s *server) broker() (Broker, error) {
	if s.cfg.Broker == nil {
		return nil, unavailable("the data plane has no MQTT broker behind it")
	}
	return s.cfg.Broker, nil
}

// Resource types and actions of the data-plane operations that are not MQTT operations. The
// IoT policy language has them (AWS IoT Core policy actions), with these resources.
const (
	actionGetRetainedMessage   = "iot:GetRetainedMessage"   // topic/<topic>
	actionListRetainedMessages = "iot:ListRetainedMessages" // "*"
	actionDeleteConnection     = "iot:DeleteConnection"     // client/<clientId>
)

// permission is one policy decision a data-plane operation needs.
type permission struct {
	action, resourceType, name string
}

// authorize decides the permissions of a data-plane operation for the caller. A certificate
// caller is decided by the certificate's policies, exactly as the MQTT hook decides for a
// connection made with it (an HTTPS request has no client ID, so thing variables resolve only
// through an EXCLUSIVE_THING attachment); every permission must be allowed, else 403
// ForbiddenException. A SigV4 or anonymous caller is allowed: the emulator has no IAM.
func (s *server) authorize(c *call, perms ...permission) error {
	who := callerOf(c.r)
	if who.kind == callerCustomAuth {
		return s.authorizeCustom(who, perms)
	}
	if who.kind != callerCertificate {
		return nil
	}
	id := registry.CertificateID(who.certificate.Raw)
	view, err := s.activeCertificate(id)
	if err != nil {
		return err
	}
	base := auth.Environment{Partition: "aws", Region: s.cfg.Region, Account: s.cfg.Account}
	env := auth.BindThing(view, "", base, s.reg.DescribeThing)
	env.Certificate = who.certificate
	env.SourceIP = remoteAddr(c.r.RemoteAddr)
	env.DomainName = s.cfg.Endpoint
	if c.r.TLS != nil && c.r.TLS.ServerName != "" {
		env.DomainName = c.r.TLS.ServerName
	}
	compiled := auth.CompilePolicies(auth.PoliciesInForce(view, env.ThingName), env)
	for _, p := range perms {
		if compiled.Decide(p.action, p.resourceType, p.name).Allowed {
			continue
		}
		reason := compiled.Explain(p.action, p.resourceType, p.name).Reason
		s.log.Warn("api: data-plane request refused by policy", "certificate", id, "action", p.action,
			"resource", p.resourceType+"/"+p.name, "reason", reason)
		return forbidden("%s on %s/%s is not allowed for certificate %s: %s", p.action, p.resourceType, p.name, id, reason)
	}
	return nil
}

// remoteAddr is the address part of a "host:port" (the zero Addr when it does not parse).
func remoteAddr(hostport string) netip.Addr {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// activeCertificate returns the registration of a client certificate that authenticates a
// request (alone, or with a CUSTOM_AUTH_X509 authorizer): it must be registered and ACTIVE.
func (s *server) activeCertificate(id string) (registry.CertificateView, error) {
	if s.reg == nil {
		return registry.CertificateView{}, forbidden("no registry to look the client certificate up in")
	}
	view, err := s.reg.CertificateIdentity(id)
	if errors.Is(err, registry.ErrNotFound) {
		return view, forbidden("certificate %s is not registered", id)
	}
	if err != nil {
		return view, fmt.Errorf("look up certificate %s: %w", id, err)
	}
	if view.Certificate.Status != registry.StatusActive {
		return view, forbidden("certificate %s is %s, only ACTIVE certificates are authorized", id, view.Certificate.Status)
	}
	return view, nil
}
