package auth

import (
	"strings"
	"testing"
)

func TestWarningsOnUnknownActions(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []string // substrings, one per expected warning, in order
	}{
		{"known actions", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iot:Connect","iot:publish","iot:GetThingShadow","iot:*","iot:Pub*","s3:GetObject"],"Resource":"*"}]}`, nil},
		{"misspelt publish", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publsh","Resource":"*"}]}`,
			[]string{`Statement[0].Action[0]: "iot:Publsh" is not an AWS IoT Core policy action`}},
		{"suggestion", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Publsh","Resource":"*"}]}`,
			[]string{`did you mean "iot:Publish"?`}},
		{"no suggestion for a far name", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Fly","Resource":"*"}]}`,
			[]string{`"iot:Fly" is not`}},
		{"NotAction and second statement", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"},{"Effect":"Deny","NotAction":["iot:Connect","iot:Subscrbe"],"Resource":"*"}]}`,
			[]string{`Statement[1].NotAction[1]: "iot:Subscrbe"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DocumentWarnings(tt.doc)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d warnings %v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i].String(), w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
	if w := DocumentWarnings(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Fly","Resource":"*"}]}`); strings.Contains(w[0].Message, "did you mean") {
		t.Errorf("far name got a suggestion: %s", w[0])
	}
}

func TestSyntaxErrorNamesLineAndColumn(t *testing.T) {
	doc := "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\" \"Action\": \"iot:*\", \"Resource\": \"*\"}\n  ]\n}"
	_, err := ParseDocument(doc)
	if err == nil || !strings.Contains(err.Error(), "line 4, column 24") {
		t.Fatalf("error %v does not name line 4, column 24", err)
	}
}
