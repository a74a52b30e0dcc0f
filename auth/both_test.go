package auth

import (
	"strings"
	"testing"
)

func TestBoth(t *testing.T) {
	env := Environment{Region: "us-east-1", Account: "123456789012", ClientID: "c1"}
	compile := func(name, text string) *Compiled {
		doc, err := ParseDocument(text)
		if err != nil {
			t.Fatal(err)
		}
		return Compile([]NamedDocument{{Name: name, Document: doc}}, env)
	}
	iam := compile("iam", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:Publish"],"Resource":"*"}]}`)
	iot := compile("iot", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/${iot:ClientId}"},{"Effect":"Allow","Action":"iot:Publish","Resource":"arn:aws:iot:us-east-1:123456789012:topic/a"}]}`)
	both := Both(iam, iot, "the IoT policies of the identity:")
	for _, tc := range []struct {
		action, typ, name string
		want              bool
	}{
		{ActionConnect, "client", "c1", true},
		{ActionConnect, "client", "c2", false}, // IAM allows, IoT does not
		{ActionPublish, "topic", "a", true},
		{ActionPublish, "topic", "b", false},
		{ActionSubscribe, "topicfilter", "a", false}, // neither allows
	} {
		if got := both.Decide(tc.action, tc.typ, tc.name).Allowed; got != tc.want {
			t.Errorf("%s %s/%s: %v, want %v", tc.action, tc.typ, tc.name, got, tc.want)
		}
		if got := both.Explain(tc.action, tc.typ, tc.name).Allowed; got != tc.want {
			t.Errorf("Explain %s %s/%s: %v, want %v", tc.action, tc.typ, tc.name, got, tc.want)
		}
	}
	if r := both.Explain(ActionPublish, "topic", "b").Reason; !strings.HasPrefix(r, "the IoT policies of the identity:") {
		t.Errorf("reason %q does not name the identity's policies", r)
	}
	all := AllowAll(env)
	if !all.Decide(ActionSubscribe, "topicfilter", "x/#").Allowed || !all.Decide(ActionReceive, "topic", "x").Allowed {
		t.Error("AllowAll denies")
	}
}
