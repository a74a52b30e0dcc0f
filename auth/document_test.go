package auth

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseDocumentErrors(t *testing.T) {
	const stmt = `"Effect":"Allow","Action":"iot:Connect","Resource":"*"`
	tests := []struct {
		name, doc, want string
	}{
		{"empty", ``, `invalid JSON at offset 0 (line 1, column 1): unexpected end of JSON input`},
		{"syntax", `{"Version": "2012-10-17",, }`, `invalid JSON at offset 25 (line 1, column 26): invalid character ',' looking for beginning of object key string`},
		{"trailing data", `{"Statement":{` + stmt + `}} x`, `invalid JSON at offset 71 (line 1, column 72): invalid character 'x' after top-level value`},
		{"multi-line", "{\n  \"Version\": \"2012-10-17\"\n  \"Statement\": []\n}", `invalid JSON at offset 30 (line 3, column 3): invalid character '"' after object key:value pair`},
		{"not an object", `[1]`, `a policy document must be a JSON object, got array`},
		{"version type", `{"Version": 2012, "Statement":{` + stmt + `}}`, `Version: must be a string, got number`},
		{"version value", `{"Version": "2012-10-18", "Statement":{` + stmt + `}}`, `Version: must be "2012-10-17" or "2008-10-17", got "2012-10-18"`},
		{"unknown top key", `{"Version": "2012-10-17", "Statements":[{` + stmt + `}]}`, `Statements: unknown key; allowed here: Version, Id, Statement`},
		{"top key case", `{"version": "2012-10-17", "Statement":[{` + stmt + `}]}`, `version: unknown key (keys are case-sensitive: did you mean "Version"?)`},
		{"duplicate key", `{"Statement":[{` + stmt + `}], "Statement":[{` + stmt + `}]}`, `Statement: duplicate key`},
		{"missing statement", `{"Version": "2012-10-17"}`, `Statement: required`},
		{"empty statement list", `{"Statement": []}`, `Statement: must contain at least one statement`},
		{"statement type", `{"Statement": "Allow"}`, `Statement: must be an object or an array of objects, got string`},
		{"statement element type", `{"Statement": [{` + stmt + `}, 3]}`, `Statement[1]: must be an object, got number`},
		{"effect case", `{"Statement": [{` + stmt + `}, {"Effect":"allow","Action":"iot:Connect","Resource":"*"}]}`, `Statement[1].Effect: must be "Allow" or "Deny", got "allow"`},
		{"effect type", `{"Statement": {"Effect":true,"Action":"iot:Connect","Resource":"*"}}`, `Statement[0].Effect: must be a string, got boolean`},
		{"effect missing", `{"Statement": {"Action":"iot:Connect","Resource":"*"}}`, `Statement[0].Effect: required`},
		{"no action", `{"Statement": {"Effect":"Allow","Resource":"*"}}`, `Statement[0]: exactly one of Action or NotAction is required`},
		{"both actions", `{"Statement": {"Effect":"Allow","Action":"iot:*","NotAction":"iot:Receive","Resource":"*"}}`, `Statement[0]: exactly one of Action or NotAction is required`},
		{"no resource", `{"Statement": {"Effect":"Allow","Action":"iot:*"}}`, `Statement[0]: exactly one of Resource or NotResource is required`},
		{"both resources", `{"Statement": {"Effect":"Allow","Action":"iot:*","Resource":"*","NotResource":"*"}}`, `Statement[0]: exactly one of Resource or NotResource is required`},
		{"action type", `{"Statement": {"Effect":"Allow","Action":{"a":1},"Resource":"*"}}`, `Statement[0].Action: must be a string or an array of strings, got object`},
		{"action element type", `{"Statement": {"Effect":"Allow","Action":["iot:Connect",7],"Resource":"*"}}`, `Statement[0].Action[1]: must be a string, got number`},
		{"action empty list", `{"Statement": {"Effect":"Allow","Action":[],"Resource":"*"}}`, `Statement[0].Action: must not be an empty list`},
		{"action empty string", `{"Statement": {"Effect":"Allow","Action":[""],"Resource":"*"}}`, `Statement[0].Action[0]: must not be empty`},
		{"action without service", `{"Statement": {"Effect":"Allow","Action":"Publish","Resource":"*"}}`, `Statement[0].Action: "Publish" is not an action: write "*" or "service:action", such as "iot:Publish"`},
		{"not action element", `{"Statement": {"Effect":"Allow","NotAction":["iot:Receive", null],"Resource":"*"}}`, `Statement[0].NotAction[1]: must be a string, got null`},
		{"resource not arn", `{"Statement": {"Effect":"Allow","Action":"iot:*","Resource":["*","topic/a"]}}`, `Statement[0].Resource[1]: "topic/a" is not a resource: write "*" or an ARN such as "arn:aws:iot:us-east-1:123456789012:topic/a"`},
		{"not resource empty", `{"Statement": {"Effect":"Allow","Action":"iot:*","NotResource":""}}`, `Statement[0].NotResource: must not be empty`},
		{"condition type", `{"Statement": {"Effect":"Allow","Action":"iot:*","Resource":"*","Condition":"x"}}`, `Statement[0].Condition: must be an object, got string`},
		{"principal", `{"Statement": {"Effect":"Allow","Principal":"*","Action":"iot:*","Resource":"*"}}`, `Statement[0].Principal: not allowed in AWS IoT policies: a policy applies to the certificate or identity it is attached to`},
		{"not principal", `{"Statement": {"Effect":"Allow","NotPrincipal":"*","Action":"iot:*","Resource":"*"}}`, `Statement[0].NotPrincipal: not allowed in AWS IoT policies: a policy applies to the certificate or identity it is attached to`},
		{"unknown statement key", `{"Statement": {"Effect":"Allow","Action":"iot:*","Resource":"*","Comment":"x"}}`, `Statement[0].Comment: unknown key; allowed here: Sid, Effect, Action, NotAction, Resource, NotResource, Condition`},
		{"statement key case", `{"Statement": {"effect":"Allow","Action":"iot:*","Resource":"*"}}`, `Statement[0].effect: unknown key (keys are case-sensitive: did you mean "Effect"?)`},
		{"duplicate statement key", `{"Statement": {"Effect":"Allow","Effect":"Deny","Action":"iot:*","Resource":"*"}}`, `Statement[0].Effect: duplicate key`},
		{"sid type", `{"Statement": {"Sid":1,"Effect":"Allow","Action":"iot:*","Resource":"*"}}`, `Statement[0].Sid: must be a string, got number`},
		{"id type", `{"Id":[],"Statement": {"Effect":"Allow","Action":"iot:*","Resource":"*"}}`, `Id: must be a string, got array`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := ParseDocument(tt.doc)
			if err == nil {
				t.Fatalf("ParseDocument succeeded: %+v", doc)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("error is %T, want *ParseError", err)
			}
			if strings.HasPrefix(tt.want, "invalid JSON at offset") != (pe.Offset >= 0) {
				t.Errorf("Offset = %d for %q", pe.Offset, tt.want)
			}
		})
	}
}

func TestParseDocumentShapes(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want *Document
	}{
		{
			name: "single statement object, strings",
			doc:  `{"Version":"2012-10-17","Statement":{"Sid":"s","Effect":"Allow","Action":"iot:Connect","Resource":"*"}}`,
			want: &Document{Version: "2012-10-17", Statements: []Statement{
				{Sid: "s", Effect: EffectAllow, Actions: []string{"iot:Connect"}, Resources: []string{"*"}},
			}},
		},
		{
			name: "lists, NotAction, NotResource, old version, Id",
			doc: `{"Version":"2008-10-17","Id":"p1","Statement":[
				{"Effect":"Deny","NotAction":["iot:Receive","iot:Subscribe"],"NotResource":["arn:aws:iot:us-east-1:1:topic/a","arn:aws:iot:us-east-1:1:topic/b"]}]}`,
			want: &Document{Version: "2008-10-17", ID: "p1", Statements: []Statement{
				{Effect: EffectDeny, NotActions: []string{"iot:Receive", "iot:Subscribe"}, NotResources: []string{"arn:aws:iot:us-east-1:1:topic/a", "arn:aws:iot:us-east-1:1:topic/b"}},
			}},
		},
		{
			name: "no version, condition kept",
			doc:  `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}}]}`,
			want: &Document{Statements: []Statement{
				{Effect: EffectAllow, Actions: []string{"*"}, Resources: []string{"*"}, Condition: json.RawMessage(`{"Bool":{"iot:Connection.Thing.IsAttached":"true"}}`),
					Conditions: []Condition{{Operator: "Bool", Key: "iot:Connection.Thing.IsAttached", Values: []string{"true"}}}},
			}},
		},
		{
			name: "null condition is no condition",
			doc:  `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":null}]}`,
			want: &Document{Statements: []Statement{
				{Effect: EffectAllow, Actions: []string{"*"}, Resources: []string{"*"}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDocument(tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
