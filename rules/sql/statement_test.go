package sql

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestStatements(t *testing.T) {
	for _, tc := range []struct {
		name, version, sql, topic, payload string
		matched                            bool
		want                               string
	}{
		{"star", "", "SELECT * FROM 'a/b'", "a/b", `{"x":1,"y":"z"}`, true, `{"x":1,"y":"z"}`},
		{"star plus item", "", "SELECT *, 15 AS speed FROM 'a/b'", "a/b", `{"x":1}`, true, `{"x":1,"speed":15}`},
		{"aliases and paths", "", "SELECT color.red AS r, color.green FROM 'a/b'", "a/b", `{"color":{"red":1,"green":2}}`, true, `{"r":1,"green":2}`},
		{"undefined items left out", "", "SELECT missing, x FROM 'a/b'", "a/b", `{"x":1}`, true, `{"x":1}`},
		{"function names its key", "", "SELECT topic(), clientid() FROM 'a/b'", "a/b", `{}`, true, `{"topic":"a/b","clientid":"n/a"}`},
		{"expression key by position", "", "SELECT x + 1 FROM 'a/b'", "a/b", `{"x":1}`, true, `{"_1":2}`},
		{"where true", "", "SELECT x FROM 'a/b' WHERE x > 0", "a/b", `{"x":1}`, true, `{"x":1}`},
		{"where false", "", "SELECT x FROM 'a/b' WHERE x > 5", "a/b", `{"x":1}`, false, ``},
		{"where undefined", "", "SELECT x FROM 'a/b' WHERE missing > 5", "a/b", `{"x":1}`, false, ``},
		{"where string true", "", "SELECT x FROM 'a/b' WHERE flag", "a/b", `{"x":1,"flag":"TRUE"}`, true, `{"x":1}`},
		{"binary payload star", "", "SELECT * FROM 'a/b'", "a/b", "\x00\x01binary", true, "\x00\x01binary"},
		{"binary payload attribute", "", "SELECT x FROM 'a/b'", "a/b", "80", true, `{}`},
		{"binary payload decode", "2016-03-23", "SELECT VALUE decode(encode(*, 'base64'), 'base64') FROM 'a/b'", "a/b", "80", true, `80`},
		{"trailing NUL tolerated", "", "SELECT x FROM 'a/b'", "a/b", "{\"x\":1}\x00\x00\n", true, `{"x":1}`},
		{"select value array 2016", "2016-03-23", "SELECT VALUE arr FROM 'a/b'", "a/b", `{"arr":[1,2,3,4]}`, true, `[1,2,3,4]`},
		{"set variables", "2016-03-23", "SET @t = temp * 2, @u = @t + 1 SELECT @t AS t, @u AS u FROM 'a/b'", "a/b", `{"temp":10}`, true, `{"t":20,"u":21}`},
		{"keywords any case", "", "select value x from 'a/b' where x = 1", "a/b", `{"x":1}`, true, `1`},
		{"multiline", "", "SELECT\n  x\nFROM 'a/b'\nWHERE x = 1", "a/b", `{"x":1}`, true, `{"x":1}`},
		{"searched case", "", "SELECT CASE WHEN x > 5 THEN 'big' ELSE 'small' END AS size FROM 'a/b'", "a/b", `{"x":9}`, true, `{"size":"big"}`},
		{"member named value", "", "SELECT state.value AS v FROM 'a/b'", "a/b", `{"state":{"value":3}}`, true, `{"v":3}`},
		// AWS's SELECT and WHERE reference examples (iot-sql-select, iot-sql-where).
		{"doc select alias", "", "SELECT color AS my_color FROM 'topic/subtopic'", "topic/subtopic", `{"color":"red","temperature":50}`, true, `{"my_color":"red"}`},
		{"doc select star", "", "SELECT * FROM 'topic/subtopic'", "topic/subtopic", `{"color":"red","temperature":50}`, true, `{"color":"red","temperature":50}`},
		{"doc select nested alias", "", "SELECT color.red as red_value FROM 'topic/subtopic'", "topic/subtopic", `{"color":{"red":255,"green":0,"blue":0}}`, true, `{"red_value":255}`},
		{"doc select value", "", "SELECT VALUE color FROM 'topic/subtopic'", "topic/subtopic", `{"color":{"red":255,"green":0,"blue":0}}`, true, `{"red":255,"green":0,"blue":0}`},
		{"doc select star plus", "", "SELECT *, 15 as speed FROM 'topic/subtopic'", "topic/subtopic", `{"color":"red","temperature":50}`, true, `{"color":"red","temperature":50,"speed":15}`},
		{"doc where equals", "", "SELECT * FROM 'topic/subtopic' WHERE color = 'red'", "topic/subtopic", `{"color":"red"}`, true, `{"color":"red"}`},
		{"doc where not equals", "", "SELECT * FROM 'topic/subtopic' WHERE color = 'red'", "topic/subtopic", `{"color":"blue"}`, false, ``},
		{"doc where numeric", "", "SELECT * FROM 'topic/subtopic' WHERE temperature > 50", "topic/subtopic", `{"temperature":60}`, true, `{"temperature":60}`},
		{"doc from wildcard", "", "SELECT * FROM 'topic/+'", "topic/subtopic", `{"a":1}`, true, `{"a":1}`},
		{"doc binary encode", "2016-03-23", "SELECT encode(*, 'base64') AS data FROM 'a/b'", "a/b", "\x01\x02", true, `{"data":"AQI="}`},
		{"doc where on decoded number", "2016-03-23", "SELECT * FROM 'a/b' WHERE decode(encode(*, 'base64'), 'base64') > 50", "a/b", "80", true, "80"},
		{"doc case alias", "", "SELECT CASE color WHEN 'green' THEN 'go' WHEN 'yellow' THEN 'caution' WHEN 'red' THEN 'stop' ELSE 'you are not at a stop light' END as instructions FROM 'topic/subtopic'", "topic/subtopic", `{"color":"red"}`, true, `{"instructions":"stop"}`},
		{"doc nested sensors", "2016-03-23", "SELECT (SELECT VALUE n FROM e) AS sensors FROM 'my/topic'", "my/topic", `{"e":[{"n":"temperature","u":"Cel","t":1234,"v":22.5},{"n":"light","u":"lm","t":1235,"v":135}]}`, true, `{"sensors":["temperature","light"]}`},
		{"nested select with star", "2016-03-23", "SELECT (SELECT * FROM e WHERE v > 40) AS high FROM 'a/b'", "a/b", `{"e":[{"v":30},{"v":60}]}`, true, `{"high":[{"v":60}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := Parse(tc.sql, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			ev := st.Evaluate(&Message{Topic: tc.topic, Payload: []byte(tc.payload)}, nil)
			if ev.Matched != tc.matched {
				t.Fatalf("matched = %v, want %v", ev.Matched, tc.matched)
			}
			if got := string(ev.Payload()); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		sql, version, want, function string
	}{
		{"SELECT FROM 'a'", "", "line 1:8: unexpected FROM", ""},
		{"SELECT x FROM a/b", "", "line 1:15: FROM expects a topic filter in single quotes", ""},
		{"SELECT x\nFROM 'a'\nWHERE x >", "", "line 3:10: unexpected end of statement", ""},
		{"SELECT nosuch(x) FROM 'a'", "", "line 1:8: unknown function nosuch", "nosuch"},
		{"SELECT get_dynamodb('t','k',x,'arn') FROM 'a'", "2016-03-23", "line 1:8: function get_dynamodb is not served", "get_dynamodb"},
		{"SELECT aws_lambda('arn', *) FROM 'a'", "2016-03-23", "function aws_lambda is not served", "aws_lambda"},
		{"SELECT encode(*, 'base64') FROM 'a'", "", "line 1:8: function encode needs awsIotSqlVersion 2016-03-23", "encode"},
		{"SELECT {'a': 1} FROM 'a'", "", "line 1:8: object literals need awsIotSqlVersion 2016-03-23", ""},
		{"SELECT (SELECT VALUE n FROM e) FROM 'a'", "", "nested SELECT needs awsIotSqlVersion 2016-03-23", ""},
		{"SELECT cast(x AS Boolean) FROM 'a'", "", "line 1:18: cast to Boolean needs", ""},
		{"SELECT cast(x AS Float) FROM 'a'", "", "cast to unknown type", ""},
		{"SELECT x FROM 'a/#/b'", "", "# must be the last level", ""},
		{"SELECT 'abc FROM 'a'", "", "", ""},
		{"SELECT abs(1, 2) FROM 'a'", "", "function abs takes 1 arguments, got 2", "abs"},
		{"SELECT CASE x END FROM 'a'", "", "CASE needs at least one WHEN", ""},
		{"SET @a = @a SELECT 1 FROM 'a'", "2016-03-23", "refers to itself", ""},
		{"SELECT x FROM 'a' WHERE", "", "unexpected end of statement", ""},
		{"SELECT x FROM 'a' extra", "", "line 1:19: unexpected", ""},
		{"SELECT x FROM 'a'", "2017-01-01", "awsIotSqlVersion", ""},
	} {
		_, err := Parse(tc.sql, tc.version)
		if err == nil {
			t.Errorf("%q: parsed", tc.sql)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %q, want %q", tc.sql, err, tc.want)
		}
		var pe *Error
		if tc.function != "" && (!errors.As(err, &pe) || pe.Function != tc.function) {
			t.Errorf("%q: error does not name function %s: %#v", tc.sql, tc.function, err)
		}
	}
}

func TestTemplates(t *testing.T) {
	st, err := Parse("SET @v = 'var' SELECT x AS alias FROM 'dev/+/data'", "2016-03-23")
	if err != nil {
		t.Fatal(err)
	}
	ev := st.Evaluate(&Message{Topic: "dev/d1/data", Payload: []byte(`{"x":5,"o":{"k":"v"}}`), ClientID: "c1"}, nil)
	for _, tc := range []struct{ tmpl, want string }{
		{"${topic()}/republish", "dev/d1/data/republish"},
		{"$$aws/things/${topic(2)}/shadow/update", "$aws/things/d1/shadow/update"},
		{"${x * 2}-${clientid()}", "10-c1"},
		{"${alias}", ""}, // SELECT aliases are not visible
		{"${o}", `{"k":"v"}`},
		{"${@v}", "var"},
		{"plain", "plain"},
		{"${get({'a':'}'}, 'a')}", "}"},
	} {
		tp, err := ParseTemplate(tc.tmpl, "2016-03-23")
		if err != nil {
			t.Fatalf("%s: %v", tc.tmpl, err)
		}
		if got := ev.Render(tp); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.tmpl, got, tc.want)
		}
	}
	if _, err := ParseTemplate("a/${topic(", ""); err == nil || !strings.Contains(err.Error(), "not closed") {
		t.Errorf("unclosed template: %v", err)
	}
	if _, err := ParseTemplate("a/${nosuch()}", ""); err == nil || !strings.Contains(err.Error(), "1:5: unknown function nosuch") {
		t.Errorf("unknown function in template: %v", err)
	}
}

type fakeData struct{}

func (fakeData) ThingShadow(thing, shadow string) ([]byte, error) {
	if thing != "t1" {
		return nil, errors.New("no shadow")
	}
	return []byte(`{"state":{"reported":{"temp":` + map[string]string{"": "20", "named": "30"}[shadow] + `}}}`), nil
}

func (fakeData) RegistryData(api, thing string) ([]byte, error) {
	if api != "DescribeThing" || thing != "t1" {
		return nil, errors.New("not found")
	}
	return []byte(`{"thingName":"t1","attributes":{"floor":"2"}}`), nil
}

func TestOwnData(t *testing.T) {
	st, err := Parse(`SELECT get_thing_shadow("t1", "arn:aws:iam::123456789012:role/r").state.reported.temp AS classic,
		get_thing_shadow("t1", "named", "arn:aws:iam::123456789012:role/r").state.reported.temp AS named,
		get_registry_data("DescribeThing", "t1", "arn:aws:iam::123456789012:role/r").attributes.floor AS floor,
		get_thing_shadow("nope", "arn:aws:iam::123456789012:role/r") AS none FROM 'a'`, "2016-03-23")
	if err != nil {
		t.Fatal(err)
	}
	ev := st.Evaluate(&Message{Topic: "a", Payload: []byte(`{}`)}, &Options{Data: fakeData{}})
	if got, want := string(ev.Payload()), `{"classic":20,"named":30,"floor":"2"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestFunctionLists(t *testing.T) {
	served := strings.Join(Served(), ",")
	for _, f := range []string{"topic", "clientid", "get_thing_shadow", "get_registry_data", "sourceip", "encode", "sha512"} {
		if !strings.Contains(served, f) {
			t.Errorf("%s not served", f)
		}
	}
	if _, ok := Unserved()["get_dynamodb"]; !ok {
		t.Error("get_dynamodb not listed as unserved")
	}
}

// TestDocsListEveryFunction keeps docs/rules.md's function tables in step with the code.
func TestDocsListEveryFunction(t *testing.T) {
	doc, err := os.ReadFile("../../docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ToLower(string(doc))
	served, unserved, _ := strings.Cut(text, "not served")
	for _, f := range Served() {
		if !regexp.MustCompile(`\b` + f + `\b`).MatchString(served) {
			t.Errorf("docs/rules.md does not list served function %s", f)
		}
	}
	for f := range Unserved() {
		if !strings.Contains(unserved, "| "+f+" |") {
			t.Errorf("docs/rules.md does not list unserved function %s", f)
		}
	}
}

// TestDeepPayload: a payload nested beyond the bound is treated as non-JSON, not parsed.
func TestDeepPayload(t *testing.T) {
	st, err := Parse("SELECT a FROM 'x'", "")
	if err != nil {
		t.Fatal(err)
	}
	deep := `{"a":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "}"
	ev := st.Evaluate(&Message{Topic: "x", Payload: []byte(deep)}, nil)
	if got := string(ev.Payload()); got != "{}" {
		t.Fatalf("got %.40s", got)
	}
	ok := `{"a":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "}"
	if got := string(st.Evaluate(&Message{Topic: "x", Payload: []byte(ok)}, nil).Payload()); got != ok {
		t.Fatalf("got %.40s", got)
	}
}
