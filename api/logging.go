package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/iotcore-local/iotcore-local/registry"
)

// This file serves AWS IoT's logging options (v1 and v2). The emulator logs to its own slog
// handler, not to CloudWatch: the options are stored and answered back, and the default log
// level is handed to Config.LoggingChanged so the emulator's log of IoT events can follow it.

// Setting keys of the logging options in the registry.
const (
	settingLoggingV1     = "loggingOptions"
	settingLoggingV2     = "v2LoggingOptions"
	settingLoggingLevels = "v2LoggingLevels"
)

// validLogLevel checks a LogLevel enum value.
func validLogLevel(field, v string) error {
	switch v {
	case "DEBUG", "INFO", "ERROR", "WARN", "DISABLED":
		return nil
	}
	return invalidRequest("%s: %q is not a log level: DEBUG, INFO, ERROR, WARN or DISABLED", field, v)
}

// logEventConfiguration is LogEventConfiguration (eventConfigurations of SetV2LoggingOptions).
type logEventConfiguration struct {
	EventType      string `json:"eventType"`
	LogLevel       string `json:"logLevel,omitempty"`
	LogDestination string `json:"logDestination,omitempty"`
}

// v2LoggingOptions is both SetV2LoggingOptions's body and GetV2LoggingOptions's output.
type v2LoggingOptions struct {
	RoleArn             string                  `json:"roleArn,omitempty"`
	DefaultLogLevel     string                  `json:"defaultLogLevel,omitempty"`
	DisableAllLogs      bool                    `json:"disableAllLogs"`
	EventConfigurations []logEventConfiguration `json:"eventConfigurations,omitempty"`
}

// setV2LoggingOptions is SetV2LoggingOptions: POST /v2LoggingOptions.
func (s *server) setV2LoggingOptions(c *call) (any, error) {
	var in v2LoggingOptions
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.DefaultLogLevel != "" {
		if err := validLogLevel("defaultLogLevel", in.DefaultLogLevel); err != nil {
			return nil, err
		}
	}
	for i, e := range in.EventConfigurations {
		if e.EventType == "" {
			return nil, invalidRequest("eventConfigurations[%d].eventType: required", i)
		}
		if e.LogLevel != "" {
			if err := validLogLevel(fmt.Sprintf("eventConfigurations[%d].logLevel", i), e.LogLevel); err != nil {
				return nil, err
			}
		}
	}
	if err := s.reg.PutSetting(settingLoggingV2, in); err != nil {
		return nil, fmt.Errorf("store logging options: %w", err)
	}
	s.loggingChanged(in.DefaultLogLevel, in.DisableAllLogs)
	return empty{}, nil
}

// getV2LoggingOptions is GetV2LoggingOptions: GET /v2LoggingOptions. Before any
// SetV2LoggingOptions it answers the AWS default: ERROR, logs not disabled.
func (s *server) getV2LoggingOptions(c *call) (any, error) {
	out := v2LoggingOptions{DefaultLogLevel: "ERROR"}
	if _, err := s.reg.GetSetting(settingLoggingV2, &out); err != nil {
		return nil, fmt.Errorf("read logging options: %w", err)
	}
	return out, nil
}

// loggingChanged tells the emulator the account's default log level changed.
func (s *server) loggingChanged(level string, disabled bool) {
	if disabled {
		level = "DISABLED"
	}
	if s.cfg.LoggingChanged != nil && level != "" {
		s.cfg.LoggingChanged(level)
	}
}

// v1LoggingOptions is LoggingOptionsPayload (SetLoggingOptions's body) and GetLoggingOptions's output.
type v1LoggingOptions struct {
	RoleArn  string `json:"roleArn,omitempty"`
	LogLevel string `json:"logLevel,omitempty"`
}

// setLoggingOptions is SetLoggingOptions (v1): POST /loggingOptions.
func (s *server) setLoggingOptions(c *call) (any, error) {
	var in v1LoggingOptions
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.RoleArn == "" {
		return nil, invalidRequest("roleArn: required")
	}
	if in.LogLevel != "" {
		if err := validLogLevel("logLevel", in.LogLevel); err != nil {
			return nil, err
		}
	}
	if err := s.reg.PutSetting(settingLoggingV1, in); err != nil {
		return nil, fmt.Errorf("store logging options: %w", err)
	}
	return empty{}, nil
}

// getLoggingOptions is GetLoggingOptions (v1): GET /loggingOptions.
func (s *server) getLoggingOptions(c *call) (any, error) {
	var out v1LoggingOptions
	if _, err := s.reg.GetSetting(settingLoggingV1, &out); err != nil {
		return nil, fmt.Errorf("read logging options: %w", err)
	}
	return out, nil
}

// logTarget is LogTarget.
type logTarget struct {
	TargetType string  `json:"targetType"`
	TargetName *string `json:"targetName,omitempty"`
}

// logTargetConfiguration is one stored logging level.
type logTargetConfiguration struct {
	LogTarget logTarget `json:"logTarget"`
	LogLevel  string    `json:"logLevel"`
}

func validTargetType(v string) error {
	switch v {
	case "DEFAULT", "THING_GROUP", "CLIENT_ID", "SOURCE_IP", "PRINCIPAL_ID":
		return nil
	}
	return invalidRequest("targetType: %q is not a log target type: DEFAULT, THING_GROUP, CLIENT_ID, SOURCE_IP or PRINCIPAL_ID", v)
}

// logTargetKey is the key a logging level is stored under.
func logTargetKey(typ, name string) string { return typ + "/" + name }

func (s *server) loggingLevels() (map[string]logTargetConfiguration, error) {
	levels := map[string]logTargetConfiguration{}
	if _, err := s.reg.GetSetting(settingLoggingLevels, &levels); err != nil {
		return nil, fmt.Errorf("read logging levels: %w", err)
	}
	return levels, nil
}

type setV2LoggingLevelRequest struct {
	LogTarget *logTarget `json:"logTarget"`
	LogLevel  string     `json:"logLevel"`
}

// setV2LoggingLevel is SetV2LoggingLevel: POST /v2LoggingLevel. A THING_GROUP target must name
// an existing group.
func (s *server) setV2LoggingLevel(c *call) (any, error) {
	var in setV2LoggingLevelRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.LogTarget == nil {
		return nil, invalidRequest("logTarget: required")
	}
	if err := validTargetType(in.LogTarget.TargetType); err != nil {
		return nil, err
	}
	if err := validLogLevel("logLevel", in.LogLevel); err != nil {
		return nil, err
	}
	name := ""
	if in.LogTarget.TargetName != nil {
		name = *in.LogTarget.TargetName
	}
	if in.LogTarget.TargetType != "DEFAULT" && name == "" {
		return nil, invalidRequest("logTarget.targetName: required for target type %s", in.LogTarget.TargetType)
	}
	if in.LogTarget.TargetType == "THING_GROUP" {
		// SetV2LoggingLevel's model has no ResourceNotFoundException: a missing group is an
		// invalid request.
		if _, err := s.reg.DescribeThingGroup(name); err != nil {
			if errors.Is(err, registry.ErrNotFound) {
				return nil, invalidRequest("logTarget.targetName: thing group %s does not exist", name)
			}
			return nil, fmt.Errorf("logging level of thing group %q: %w", name, err)
		}
	}
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	levels, err := s.loggingLevels()
	if err != nil {
		return nil, err
	}
	levels[logTargetKey(in.LogTarget.TargetType, name)] = logTargetConfiguration{LogTarget: *in.LogTarget, LogLevel: in.LogLevel}
	if err := s.reg.PutSetting(settingLoggingLevels, levels); err != nil {
		return nil, fmt.Errorf("store logging levels: %w", err)
	}
	return empty{}, nil
}

// deleteV2LoggingLevel is DeleteV2LoggingLevel: DELETE /v2LoggingLevel?targetType&targetName.
func (s *server) deleteV2LoggingLevel(c *call) (any, error) {
	typ := c.query("targetType")
	if typ == "" {
		return nil, invalidRequest("targetType: required")
	}
	if err := validTargetType(typ); err != nil {
		return nil, err
	}
	s.settingsMu.Lock()
	defer s.settingsMu.Unlock()
	levels, err := s.loggingLevels()
	if err != nil {
		return nil, err
	}
	delete(levels, logTargetKey(typ, c.query("targetName")))
	if err := s.reg.PutSetting(settingLoggingLevels, levels); err != nil {
		return nil, fmt.Errorf("store logging levels: %w", err)
	}
	return empty{}, nil
}

type listV2LoggingLevelsResponse struct {
	LogTargetConfigurations []logTargetConfiguration `json:"logTargetConfigurations"`
	NextToken               string                   `json:"nextToken,omitempty"`
}

// listV2LoggingLevels is ListV2LoggingLevels: GET /v2LoggingLevel?targetType&nextToken&maxResults.
func (s *server) listV2LoggingLevels(c *call) (any, error) {
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultPageSize)
	if err != nil {
		return nil, err
	}
	typ := c.query("targetType")
	if typ != "" {
		if err := validTargetType(typ); err != nil {
			return nil, err
		}
	}
	levels, err := s.loggingLevels()
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(levels))
	for k := range levels {
		if typ == "" || strings.HasPrefix(k, typ+"/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	start := 0
	if tok := c.query("nextToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil || len(b) == 0 {
			return nil, invalidRequest("nextToken: not a token this API returned: %q", tok)
		}
		start = sort.SearchStrings(keys, string(b))
	}
	page := keys[start:]
	next := ""
	if len(page) > maxResults {
		next = base64.RawURLEncoding.EncodeToString([]byte(page[maxResults]))
		page = page[:maxResults]
	}
	out := listV2LoggingLevelsResponse{LogTargetConfigurations: make([]logTargetConfiguration, 0, len(page)), NextToken: next}
	for _, k := range page {
		out.LogTargetConfigurations = append(out.LogTargetConfigurations, levels[k])
	}
	return out, nil
}

// StoredLogLevel returns the account's default log level as SetV2LoggingOptions last stored
// it (DISABLED when all logs are disabled), or "" when it was never set, so that the emulator
// can apply it at start.
func StoredLogLevel(reg *registry.Registry) string {
	var o v2LoggingOptions
	if found, err := reg.GetSetting(settingLoggingV2, &o); err != nil || !found {
		return ""
	}
	if o.DisableAllLogs {
		return "DISABLED"
	}
	return o.DefaultLogLevel
}
