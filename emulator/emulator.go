package emulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/iotcore-local/iotcore-local/api"
	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/authorizers"
	"github.com/iotcore-local/iotcore-local/console"
	"github.com/iotcore-local/iotcore-local/domains"
	"github.com/iotcore-local/iotcore-local/functions"
	"github.com/iotcore-local/iotcore-local/hooks"
	"github.com/iotcore-local/iotcore-local/index"
	"github.com/iotcore-local/iotcore-local/jobs"
	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/pki"
	"github.com/iotcore-local/iotcore-local/provisioning"
	"github.com/iotcore-local/iotcore-local/registry"
	"github.com/iotcore-local/iotcore-local/rules"
	"github.com/iotcore-local/iotcore-local/shadow"
)

// Emulator is one running iotcore-local: listeners, broker, registry and HTTP API.
type Emulator struct {
	cfg Config
	log *slog.Logger

	gcFloorStop func() // removes the heap floor (gcfloor.go); nil when none

	tlsFaultRules []listener.FaultRule // Config.TLSFaults, parsed

	pki          *pki.Authority
	registry     *registry.Registry
	shadows      *shadow.Service
	jobs         *jobs.Service
	functions    *functions.Client
	authorizers  *authorizers.Service
	domains      *domains.Service
	domainNames  []string // the domain names at open, for pki.Load
	stapler      *stapler // OCSP responses of domain configurations with enableOCSPCheck
	rules        *rules.Engine
	transcripts  *listener.Transcripts // nil with NoTranscripts
	faults       *listener.Faults
	done         chan struct{} // closed by Close: long-lived API responses end
	broker       *mqtt.Server
	authorizer   *hooks.Authorizer
	store        *hooks.Store
	httpBroker   *brokerAdapter
	unwatch      func()
	mqtts, alpn  *listener.Listener
	ws           *listener.WebSocket // MQTT over WebSocket at /mqtt (443 and the API address)
	frontHandler http.Handler        // apiHandler with /mqtt routed to ws
	https        *listener.Listener  // 8443: HTTPS with a client certificate, outside Mochi
	httpsDone    chan struct{}
	apiHandler   http.Handler
	apiLn        net.Listener
	apiSrv       *http.Server
	apiDone      chan struct{}
	ready        atomic.Bool
	closeOnce    sync.Once
	closeErr     error

	// Fleet indexing, the credentials provider's issued keys and the IoT log level
	// (fleetindex.go, iotlogging.go).
	index     *index.Index
	tempCreds *api.TemporaryCredentials
	iotLog    *iotLogLevel

	provisioning *provisioning.Service // fleet provisioning and JITP (provisioning.go)

	consoleCred *api.ConsoleCredential // the console's in-memory key for /mqtt (websocket.go)
}

// New checks the configuration; nothing is opened or bound until Start.
func New(cfg Config) (*Emulator, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	rules, err := parseTLSFaults(c.TLSFaults, "TLSFaults")
	if err != nil {
		return nil, fmt.Errorf("invalid configuration: %w", err)
	}
	return &Emulator{cfg: c, log: c.Logger, tlsFaultRules: rules}, nil
}

// transcriptCapacity bounds the in-memory ring of handshake transcripts.
const transcriptCapacity = 1000

// Start opens the state folder, binds every listener, applies the seed file and returns once the
// emulator serves. On error everything already started is closed again.
func (e *Emulator) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	var seed *Seed
	if e.cfg.SeedFile != "" {
		if seed, err = readSeedFile(e.cfg.SeedFile); err != nil {
			return err
		}
		e.addCredentials(seed.Credentials)
		e.addFunctions(seed.Functions)
	}
	if e.functions, err = functions.New(functions.Config{Routes: e.cfg.Functions, Logger: e.log.With("component", "functions")}); err != nil {
		return fmt.Errorf("functions: %w", err)
	}
	if err := os.MkdirAll(e.cfg.DataDir, 0o700); err != nil {
		return dataDirError(e.cfg.DataDir, err)
	}
	if err := checkWritable(e.cfg.DataDir); err != nil {
		return err
	}
	if e.domains, err = e.openDomains(); err != nil {
		return err
	}
	if e.pki, err = pki.Load(pki.Options{Dir: e.cfg.DataDir, Names: e.cfg.Endpoints, DomainNames: e.domainNames, KeyType: e.cfg.ServerKey, Logger: e.log}); err != nil {
		return fmt.Errorf("load certificate authority: %w", err)
	}
	e.stapler = newStapler(e.pki, e.functions, e.log.With("component", "ocsp"), e.cfg.Now)
	e.registry, err = registry.Open(filepath.Join(e.cfg.DataDir, "registry.db"), registry.Options{
		Region:         e.cfg.Region,
		Account:        e.cfg.Account,
		ValidatePolicy: func(doc string) error { _, err := auth.ParseDocument(doc); return err },
		Logger:         e.log,
	})
	if err != nil {
		return fmt.Errorf("open registry: %w", err)
	}
	e.iotLog = newIoTLogLevel()
	e.iotLog.set(api.StoredLogLevel(e.registry))
	if e.authorizers, err = e.openAuthorizers(); err != nil {
		return err
	}
	e.shadows, err = shadow.Open(filepath.Join(e.cfg.DataDir, "shadows.db"), shadow.Options{Now: e.cfg.Now,
		Logger: e.iotLog.wrap(e.log.With("component", "shadow")), OnChange: e.shadowChanged})
	if err != nil {
		return fmt.Errorf("open shadow store: %w", err)
	}
	if err := e.openIndex(); err != nil {
		return err
	}
	if err := e.openJobs(); err != nil {
		return err
	}
	if err := e.openProvisioning(); err != nil {
		return err
	}
	e.startGCFloor()
	if err := e.startBroker(); err != nil {
		return err
	}
	if err := e.startAPI(); err != nil {
		return err
	}
	e.jobs.Start() // the broker its messages go through is up
	if seed != nil {
		if err := e.ApplySeed(ctx, seed, filepath.Dir(e.cfg.SeedFile)); err != nil {
			return fmt.Errorf("seed file %s: %w", e.cfg.SeedFile, err)
		}
	}
	if e.cfg.Demo {
		if err := e.ensureDemoDevice(); err != nil {
			return err
		}
	}
	e.ready.Store(true)
	e.log.Info("iotcore-local ready", "mqtt", e.MQTTAddr(), "alpn", e.ALPNAddr(), "https", e.HTTPSAddr(), "api", e.APIURL(), "data", displayPath(e.cfg.DataDir))
	return nil
}

// startBroker builds the Mochi server with the emulator's hooks and TLS listeners.
func (e *Emulator) startBroker() error {
	aws := e.cfg.Profile == "aws"
	caps := hooks.Capabilities(aws, e.cfg.SessionExpiry, e.cfg.WriteQueue, e.cfg.MaxPacketSize)
	// --write-queue also bounds the QoS 1 messages awaiting one client's PUBACK, so that the one
	// flag the drop messages name (logging.go) is the one that prevents them.
	// Mochi counts it in 16 bits.
	caps.MaximumInflight = uint16(min(max(int(caps.MaximumInflight), e.cfg.WriteQueue), math.MaxUint16))
	e.broker = mqtt.New(&mqtt.Options{
		Capabilities:           caps,
		Logger:                 slog.New(newQuietBrokerHandler(e.log.With("component", "broker").Handler(), e.cfg.WriteQueue)),
		InlineClient:           true,
		SysTopicResendInterval: math.MaxInt32, // AWS IoT has no $SYS topics
		// Every connection holds its read buffer for as long as it lives; MQTT packets from
		// devices are mostly small, and larger ones are read through it all the same.
		// BENCHMARKS.md ("Memory per idle connection") has the measurements.
		ClientNetReadBufferSize: 1024,
	})
	profile := hooks.NewProfile(hooks.ProfileOptions{
		AWS: aws, SessionExpiry: e.cfg.SessionExpiry, Throttle: e.cfg.Throttle, Server: e.broker,
		OnExpired: func(cl *mqtt.Client) { e.store.OnClientExpired(cl) },
		Logger:    e.log.With("component", "profile"),
	})
	var lifecycle *hooks.Lifecycle
	e.authorizer = hooks.NewAuthorizer(hooks.AuthorizerOptions{
		Directory: e.directory(), Region: e.cfg.Region, Account: e.cfg.Account, Profile: e.cfg.Profile,
		Server: e.broker, OnRefused: func(cl *mqtt.Client) { lifecycle.ConnectFailed(cl) },
		StoredCertificate: func(clientID string) (string, bool) { return e.store.CertificateFor(clientID) },
		Generation:        e.registry.Generation,
		Logger:            e.iotLog.wrap(e.log.With("component", "authorizer")),
		IdentityPolicies:  e.registry.CognitoIdentityPolicies,
		WebSocketLifetime: e.cfg.WebSocketTTL,
		CustomAuth:        domainAuthenticator{inner: e.authorizers, domains: e.domains},
		CustomAuthSecond:  e.cfg.CustomAuthSecond,
	})
	lifecycle = hooks.NewLifecycle(hooks.LifecycleOptions{
		Server: e.broker, Principals: e.authorizer, Logger: e.iotLog.wrap(e.log.With("component", "lifecycle")),
		OnPresence: e.presenceChanged,
		Observed:   e.eventObserved,
	})
	provisioner := hooks.NewProvisioningService(hooks.ProvisioningOptions{
		Service: e.provisioning, Server: e.broker, Logger: e.log.With("component", "provisioning"),
		Receive: func(cl *mqtt.Client, topic string) bool { return e.authorizer.OnACLCheck(cl, topic, false) },
	})
	jobsRouter := hooks.NewJobs(hooks.JobsOptions{Service: e.jobs, Server: e.broker, Authorizer: e.authorizer, Logger: e.log.With("component", "jobs")})
	shadows := hooks.NewShadowService(hooks.ShadowOptions{Service: e.shadows, Server: e.broker, Logger: e.log.With("component", "shadow"), Jobs: jobsRouter,
		Provisioning: provisioner})
	if err := e.openRules(); err != nil {
		return err
	}
	ruleHook := hooks.NewRules(hooks.RulesOptions{Engine: e.rules, Principals: e.authorizer, Logger: e.log.With("component", "rules")})
	var err error
	e.store, err = hooks.OpenStore(hooks.StoreOptions{
		Path:       filepath.Join(e.cfg.DataDir, "sessions.db"),
		Logger:     e.log.With("component", "store"),
		Principals: e.authorizer,
	})
	if err != nil {
		return fmt.Errorf("open session store: %w", err)
	}
	// One hook reads arriving packets for the profile and the authorizer (hooks.ReadDispatch:
	// one packet copy per read instead of one per hook).
	// The store comes last: it records only what every other hook let through.
	// The hooks with no per-packet event in the usual case form one Group, which Mochi asks once
	// per event instead of once per hook (hooks.Group). The HTTP API's broker adapter is its
	// last member: when DeleteConnection returns, every hook has seen the disconnect.
	reads := hooks.NewReadDispatch(profile, e.authorizer)
	e.httpBroker = makeBrokerAdapter(brokerAdapterOptions{
		Server: e.broker, Logger: e.log.With("component", "http-broker"),
		OnSessionDropped: func(cl *mqtt.Client) { e.store.OnClientExpired(cl) },
	})
	quiet, err := hooks.NewGroup("iotcore-services", lifecycle, shadows, ruleHook, e.store, e.httpBroker)
	if err != nil {
		return err
	}
	for _, h := range []mqtt.Hook{reads, profile, e.authorizer, quiet} {
		if err := e.broker.AddHook(h, nil); err != nil {
			return fmt.Errorf("add hook %s: %w", h.ID(), err)
		}
	}
	e.unwatch = e.registry.Watch(e.registryChanged)

	if !e.cfg.NoTranscripts {
		e.transcripts = listener.NewTranscripts(transcriptCapacity)
	}
	e.faults = listener.NewFaults(e.pki.FaultCertificate)
	if err := e.addTLSFaults(e.tlsFaultRules); err != nil {
		return fmt.Errorf("--tls-fault: %w", err)
	}
	e.done = make(chan struct{})
	e.consoleCred = api.NewConsoleCredential(e.cfg.Region, nil)
	e.apiHandler = e.newAPIHandler()
	e.ws = e.newWebSocket()
	e.frontHandler = withWebSocket(e.ws, e.apiHandler)
	common := listener.Config{
		Certificate:       e.pki.ServerCertificate,
		HandshakeTimeout:  e.cfg.HandshakeTimeout,
		ConnectTimeout:    e.cfg.ConnectTimeout,
		CertificateStatus: e.certificateStatus,
		CertificateThing:  e.certificateThing,
		MaxPacketBytes:    e.cfg.MaxPacketSize,
		Transcripts:       e.transcripts,
		Faults:            e.faults,
		Domains:           e.listenerDomain,
		CloseClients:      e.closeListenerClients,
		Logger:            e.log.With("component", "listener"),
	}
	mqtts, alpn := common, common
	mqtts.ID, mqtts.Address, mqtts.Kind = "mqtts", e.cfg.MQTTAddr, listener.KindMQTTS
	alpn.ID, alpn.Address, alpn.Kind, alpn.Strict = "alpn", e.cfg.ALPNAddr, listener.KindALPN, e.cfg.ALPNStrict
	alpn.HTTP = e.frontHandler
	alpn.CustomAuth = true
	e.mqtts, e.alpn = listener.New(mqtts), listener.New(alpn)
	for _, l := range []struct {
		ln   *listener.Listener
		flag string
	}{{e.mqtts, "--mqtt-addr"}, {e.alpn, "--alpn-addr"}} {
		if err := e.broker.AddListener(l.ln); err != nil {
			return bindError(l.flag, l.ln.Address(), err)
		}
	}
	if err := e.broker.AddListener(e.ws); err != nil {
		return fmt.Errorf("websocket listener: %w", err)
	}
	if err := e.broker.Serve(); err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	return e.startHTTPS(common)
}

// startHTTPS serves AWS's 8443 port: HTTPS with a required client certificate. It carries no
// MQTT, so it runs beside Mochi rather than as one of its listeners.
func (e *Emulator) startHTTPS(common listener.Config) error {
	cfg := common
	cfg.ID, cfg.Address, cfg.Kind, cfg.HTTP = "https", e.cfg.HTTPSAddr, listener.KindHTTPS, e.apiHandler
	e.https = listener.New(cfg)
	if err := e.https.Init(nil); err != nil {
		e.https = nil
		return bindError("--https-addr", e.cfg.HTTPSAddr, err)
	}
	e.httpsDone = make(chan struct{})
	go func() {
		defer close(e.httpsDone)
		e.https.Serve(nil)
	}()
	return nil
}

// registryChanged applies a committed registry change: live connections follow certificate,
// policy and attachment changes, and the registry's event messages (just-in-time registration,
// and the registry events switched on with UpdateEventConfigurations) are published on MQTT.
func (e *Emulator) registryChanged(ev registry.Event) {
	e.authorizer.CertificateChanged(ev)
	e.jobsRegistryChanged(ev)
	for _, p := range ev.Publications {
		if err := e.broker.Publish(p.Topic, p.Payload, false, 0); err != nil {
			e.log.Warn("publish registry event", "topic", p.Topic, "error", err)
		}
	}
}

// bindError explains a listener that could not bind, naming the flag that picks another address.
func bindError(flag, addr string, err error) error {
	if errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("cannot listen on %s: permission denied (ports below 1024 need privilege); choose another port with %s, e.g. %s 127.0.0.1:4443: %w", addr, flag, flag, err)
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s: the address is in use; choose another with %s: %w", addr, flag, err)
	}
	return fmt.Errorf("cannot listen on %s (%s): %w", addr, flag, err)
}

// certificateStatus tells the handshake transcript whether a presented certificate is known
// (through the authorizer's connect cache: no registry read for a reconnecting certificate).
func (e *Emulator) certificateStatus(id string) (string, bool) {
	if status, _, known := e.authorizer.CertificateFacts(id); known {
		return status, true
	}
	return e.claimStatus(id)
}

// newAPIHandler is the AWS-compatible HTTP API, served on --api-addr and on the HTTPS
// personalities of the ALPN port and 8443.
func (e *Emulator) newAPIHandler() http.Handler {
	return api.New(api.Config{
		Registry:    e.registry,
		Issuer:      e.pki,
		RootCAPEM:   e.pki.RootCAPEM(),
		Region:      e.cfg.Region,
		Account:     e.cfg.Account,
		Endpoint:    e.cfg.endpoint(),
		Connections: func() any { return e.Connections() },
		Transcripts: e.connectionLog(),
		TLSFaults:   faultSet{e.faults},
		Console:     console.Handler(),
		Done:        e.done,
		Ready:       e.ready.Load,
		Credentials: e.cfg.Credentials,
		SigV4Strict: e.cfg.SigV4Strict,
		Hosts:       append(append([]string(nil), e.cfg.Endpoints...), e.cfg.APIAddr, e.cfg.ALPNAddr, e.cfg.HTTPSAddr),
		Broker:      e.httpBroker,
		Logger:      e.log.With("component", "api"),
		Shadows:     e.shadows,
		Authorizers: e.authorizers,
		CustomAuth:  domainAuthenticator{inner: e.authorizers, domains: e.domains}.Authenticate,
		CustomAuthX509: func(r *http.Request) bool {
			t := listener.TranscriptFromContext(r.Context())
			return t != nil && t.Personality() == listener.PersonalityHTTPSCustomAuthX509
		},
		Domains:   e.domains,
		ShadowNow: e.cfg.Now,
		ShadowPublish: func(pubs []shadow.Publication) {
			hooks.Publish(e.broker, e.log.With("component", "shadow"), pubs)
		},
		Index:                e.index,
		TemporaryCredentials: e.tempCreds,
		LoggingChanged:       e.iotLog.set,
		Jobs:                 e.jobs,
		Rules:                e.rules,
		Provisioning:         e.provisioning,
		ConsoleCredential:    e.consoleCred,
	})
}

// startAPI binds the HTTP API and serves it in the background.
func (e *Emulator) startAPI() error {
	ln, err := net.Listen("tcp", e.cfg.APIAddr)
	if err != nil {
		return bindError("--api-addr", e.cfg.APIAddr, err)
	}
	e.apiLn = ln
	e.apiSrv = &http.Server{Handler: e.frontHandler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: listener.DefaultHTTPIdleTimeout, ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelWarn)}
	e.apiDone = make(chan struct{})
	go func() {
		defer close(e.apiDone)
		if err := e.apiSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("api server stopped", "error", err)
		}
	}()
	return nil
}

// Close stops everything Start started; it is safe to call more than once.
func (e *Emulator) Close() error {
	e.closeOnce.Do(func() {
		e.ready.Store(false)
		if e.done != nil {
			close(e.done)
		}
		var errs []error
		if e.apiSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := e.apiSrv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop api: %w", err))
				e.apiSrv.Close()
			}
			cancel()
			<-e.apiDone
		}
		if e.https != nil {
			e.https.Close(nil)
			<-e.httpsDone
		}
		if e.jobs != nil {
			if err := e.jobs.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close jobs store: %w", err))
			}
		}
		if e.broker != nil {
			e.logDrops()
			if err := e.broker.Close(); err != nil {
				errs = append(errs, fmt.Errorf("stop broker: %w", err))
			}
		}
		if e.store != nil { // the broker's Close stops it; this covers a broker that never served
			if err := e.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close session store: %w", err))
			}
		}
		if e.unwatch != nil {
			e.unwatch()
		}
		if e.rules != nil {
			if err := e.rules.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close rules engine: %w", err))
			}
		}
		if e.index != nil {
			_ = e.index.Close()
		}
		if e.stapler != nil {
			e.stapler.close()
		}
		if e.functions != nil {
			e.functions.CloseIdleConnections()
		}
		if e.domains != nil {
			if err := e.domains.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close domain configuration store: %w", err))
			}
		}
		if e.authorizers != nil {
			if err := e.authorizers.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close authorizer store: %w", err))
			}
		}
		if e.shadows != nil {
			if err := e.shadows.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close shadow store: %w", err))
			}
		}
		if e.provisioning != nil {
			if err := e.provisioning.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close provisioning store: %w", err))
			}
		}
		if e.registry != nil {
			if err := e.registry.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close registry: %w", err))
			}
		}
		e.stopGCFloor()
		e.closeErr = errors.Join(errs...)
	})
	return e.closeErr
}

// MQTTAddr is the bound address of the MQTT-over-mTLS listener (AWS's 8883).
func (e *Emulator) MQTTAddr() string { return addrOf(e.mqtts) }

// ALPNAddr is the bound address of the ALPN-multiplexed listener (AWS's 443).
func (e *Emulator) ALPNAddr() string { return addrOf(e.alpn) }

func addrOf(l *listener.Listener) string {
	if l == nil {
		return ""
	}
	return l.Address()
}

// HTTPSAddr is the bound address of the HTTPS-with-certificate port (AWS's 8443).
func (e *Emulator) HTTPSAddr() string { return addrOf(e.https) }

// APIURL is the base URL of the HTTP API, for --endpoint-url and SDK BaseEndpoint.
func (e *Emulator) APIURL() string {
	if e.apiLn == nil {
		return ""
	}
	return "http://" + e.apiLn.Addr().String()
}

// Endpoint is the host name devices connect to (DescribeEndpoint's answer).
func (e *Emulator) Endpoint() string { return e.cfg.endpoint() }

// RootCAFile is the path of the CA file clients trust.
func (e *Emulator) RootCAFile() string { return e.pki.RootCAFile() }

// RootCAPEM is the CA clients trust, as PEM.
func (e *Emulator) RootCAPEM() []byte { return e.pki.RootCAPEM() }

// Shadows is the Device Shadow service, shared by MQTT and HTTP.
func (e *Emulator) Shadows() *shadow.Service { return e.shadows }

// Functions is the Invoker through which the emulator's services call functions.
func (e *Emulator) Functions() functions.Invoker { return e.functions }

// Registry is the emulator's registry, for tests that inspect or change state directly.
func (e *Emulator) Registry() *registry.Registry { return e.registry }

// Connections returns the handshake transcripts kept in memory, oldest first.
// With NoTranscripts it is empty.
func (e *Emulator) Connections() []listener.Record {
	if e.transcripts == nil {
		return []listener.Record{}
	}
	return e.transcripts.Records()
}

// connectionLog is the transcript store as the API sees it; nil with NoTranscripts.
func (e *Emulator) connectionLog() api.ConnectionLog {
	if e.transcripts == nil {
		return nil
	}
	return connectionLog{e.transcripts}
}

// DataDir is the state folder in use.
func (e *Emulator) DataDir() string { return e.cfg.DataDir }
