package auth

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseDocument feeds arbitrary documents to ParseDocument, seeded with the example
// policies and condition blocks of every kind. A document that parses must compile (for a
// connection where every condition key and certificate variable has a value) and answer
// consistently through Decide and Explain; one that does not must fail with a *ParseError.
func FuzzParseDocument(f *testing.F) {
	files, err := filepath.Glob(filepath.Join(policyFixtures, "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed policies in %s: %v", policyFixtures, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add(benchPolicy)
	f.Add(benchCondPolicy)
	f.Add(`{"Statement":{"Effect":"Deny","NotAction":"iot:*","NotResource":"arn:aws:iot:*:*:topic/${*}${?}${$}${iot:ClientId"}}`)
	f.Add(`{"Version":"2012-10-17","Statement":[]}`)
	f.Add(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{` +
		`"ForAllValues:StringLikeIfExists":{"iot:ConnectAttributes":[],"iot:Certificate.Subject.OrganizationalUnit.List":["*${iot:ClientId}?"]},` +
		`"ForAnyValue:ArnNotLike":{"iot:LastWillTopic":["arn:aws:iot:*:*:topic/${iot:Certificate.Subject.CommonName.1}","*","arn:"]},` +
		`"NumericGreaterThanEquals":{"iot:Connection.Thing.Attributes[Floor]":[1,"2.5e0"]},"Bool":{"iot:Connection.Thing.IsAttached":true},` +
		`"NotIpAddressIfExists":{"aws:SourceIp":["10.0.0.0/8","::1","::ffff:1.2.3.0/120"]},"Null":{"iot:Certificate.AvailableKeys":"false"}}}}`)
	f.Add(`{"Statement":{"Effect":"Deny","Action":"iot:Publish","Resource":"*","Condition":{"StringEqualsIgnoreCase":{"IOT:DOMAINNAME":"${iot:DomainName}"},` +
		`"StringNotEqualsIgnoreCase":{"aws:SourceIp":"${aws:SourceIp}"},"NumericNotEquals":{"k":-0}}}}`)
	f.Add(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2030-01-01"}}}}`)
	f.Add(`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}}`)

	env := condEnv()
	env.Certificate = richCert(f)
	questions := [][3]string{
		{ActionConnect, "client", "dev1"},
		{ActionPublish, "topic", "things/dev1/a"},
		{ActionSubscribe, "topicfilter", "a/+/#"},
		{ActionReceive, "topic", "$aws/things/dev1/shadow/update"},
		{"iot:GetThingShadow", "thing", "dev1"},
	}
	f.Fuzz(func(t *testing.T, document string) {
		doc, err := ParseDocument(document)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error %v is %T, not *ParseError", err, err)
			}
			return
		}
		if len(doc.Statements) == 0 {
			t.Fatal("parsed a document without statements")
		}
		c := Compile([]NamedDocument{{Name: "fuzz", Document: doc}}, env)
		for _, q := range questions {
			d := c.Decide(q[0], q[1], q[2])
			e := c.Explain(q[0], q[1], q[2])
			if e.Reason == "" || d.Allowed != e.Allowed || d.Policy != e.Policy || d.Statement != e.Statement {
				t.Fatalf("Decide %+v, Explain %+v", d, e)
			}
			if d.Allowed && d.Statement < 0 {
				t.Fatalf("allowed without a statement: %+v", d)
			}
		}
	})
}
