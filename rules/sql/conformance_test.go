package sql

import (
	"strings"
	"testing"
	"time"
)

// Each row is an example of AWS's IoT SQL reference (functions, operators, SELECT/WHERE,
// nested queries, CASE, literals, versions): the SELECT item, the payload and the documented
// result (as JSON; "" = Undefined).
var conformance = []struct {
	doc     string // the reference page the example comes from
	version string
	expr    string
	payload string
	want    string
}{
	{"iot-sql-functions abs", "", "abs(-5)", `{}`, `5`},
	{"iot-sql-functions abs", "", "abs(\"-5.5\")", `{}`, `5.5`},
	{"iot-sql-functions bitand", "", "bitand(13, 5)", `{}`, `5`},
	{"iot-sql-functions bitor", "", "bitor(8, 5)", `{}`, `13`},
	{"iot-sql-functions bitxor", "", "bitxor(13, 5)", `{}`, `8`},
	{"iot-sql-functions bitnot", "", "bitnot(13)", `{}`, `-14`},
	{"iot-sql-functions ceil", "", "ceil(1.2)", `{}`, `2`},
	{"iot-sql-functions ceil", "", "ceil(-1.2)", `{}`, `-1`},
	{"iot-sql-functions floor", "", "floor(1.8)", `{}`, `1`},
	{"iot-sql-functions floor", "", "floor(-1.2)", `{}`, `-2`},
	{"iot-sql-functions round", "", "round(1.2)", `{}`, `1`},
	{"iot-sql-functions round", "", "round(1.5)", `{}`, `2`},
	{"iot-sql-functions round", "", "round(1.7)", `{}`, `2`},
	{"iot-sql-functions round", "", "round(-1.1)", `{}`, `-1`},
	{"iot-sql-functions round", "", "round(-1.5)", `{}`, `-2`},
	{"iot-sql-functions sign", "", "sign(-7)", `{}`, `-1`},
	{"iot-sql-functions sign", "", "sign(0)", `{}`, `0`},
	{"iot-sql-functions sign", "", "sign(13)", `{}`, `1`},
	{"iot-sql-functions mod", "", "mod(8, 3)", `{}`, `2`},
	{"iot-sql-functions remainder", "", "remainder(8, 3)", `{}`, `2`},
	{"iot-sql-functions power", "", "power(2, 8)", `{}`, `256`},
	{"iot-sql-functions power", "", "power(2.0, 8)", `{}`, `256.0`},
	{"iot-sql-functions power", "2016-03-23", "power(2.0, 8)", `{}`, `256`},
	{"iot-sql-functions sqrt", "", "sqrt(9)", `{}`, `3.0`},
	{"iot-sql-functions sqrt", "", "sqrt(-1)", `{}`, ``},
	{"iot-sql-functions trunc", "", "trunc(2.3, 0)", `{}`, `2.0`},
	{"iot-sql-functions trunc", "2016-03-23", "trunc(2.3, 0)", `{}`, `2`},
	{"iot-sql-functions trunc", "", "trunc(2.3123, 2)", `{}`, `2.31`},
	{"iot-sql-functions trunc", "", "trunc(2.888, 2)", `{}`, `2.88`},
	{"iot-sql-functions nanvl", "", "nanvl(8, 3)", `{}`, `8`},
	{"iot-sql-functions nanvl", "", "nanvl(missing, 3)", `{}`, `3`},
	{"iot-sql-functions nanvl", "", "nanvl(null, 3)", `{}`, `3`},
	{"iot-sql-functions chr", "", "chr(65)", `{}`, `"A"`},
	{"iot-sql-functions chr", "", "chr('65')", `{}`, `"A"`},
	{"iot-sql-functions concat", "", "concat()", `{}`, ``},
	{"iot-sql-functions concat", "", "concat(1)", `{}`, `1`},
	{"iot-sql-functions concat", "2016-03-23", "concat([1, 2, 3], 4)", `{}`, `[1,2,3,4]`},
	{"iot-sql-functions concat", "2016-03-23", "concat([1, 2, 3], [4])", `{}`, `[1,2,3,4]`},
	{"iot-sql-functions concat", "", "concat(1, \"hello\")", `{}`, `"1hello"`},
	{"iot-sql-functions concat", "", "concat(\"he\",\"is\",\"man\")", `{}`, `"heisman"`},
	{"iot-sql-functions endswith", "", "endswith(\"cat\",\"at\")", `{}`, `true`},
	{"iot-sql-functions startswith", "", "startswith(\"ranger\",\"ran\")", `{}`, `true`},
	{"iot-sql-functions indexof", "2016-03-23", "indexof(\"abcd\", \"bc\")", `{}`, `1`},
	{"iot-sql-functions length", "2016-03-23", "length(\"hi\")", `{}`, `2`},
	{"iot-sql-functions length", "2016-03-23", "length(false)", `{}`, `5`},
	{"iot-sql-functions numbytes", "2016-03-23", "numbytes(\"hi\")", `{}`, `2`},
	{"iot-sql-functions numbytes", "2016-03-23", "numbytes(\"€\")", `{}`, `3`},
	{"iot-sql-functions lower", "", "lower(\"HELLO\")", `{}`, `"hello"`},
	{"iot-sql-functions upper", "2016-03-23", "upper(\"hello\")", `{}`, `"HELLO"`},
	{"iot-sql-functions upper", "2016-03-23", "upper([\"hello\"])", `{}`, `"[\"HELLO\"]"`},
	{"iot-sql-functions lpad", "", "lpad(\"hello\", 2)", `{}`, `"  hello"`},
	{"iot-sql-functions lpad", "", "lpad(1, 3)", `{}`, `"   1"`},
	{"iot-sql-functions lpad", "", "lpad(\"hello\", -3)", `{}`, `"hello"`},
	{"iot-sql-functions rpad", "", "rpad(\"hello\", 2)", `{}`, `"hello  "`},
	{"iot-sql-functions ltrim", "", "ltrim(\" h i \")", `{}`, `"h i "`},
	{"iot-sql-functions rtrim", "", "rtrim(\" h i \")", `{}`, `" h i"`},
	{"iot-sql-functions trim", "", "trim(\"\t hi \")", `{}`, `"hi"`},
	{"iot-sql-functions replace", "", "replace(\"abcd\", \"bc\", \"x\")", `{}`, `"axd"`},
	{"iot-sql-functions replace", "", "replace(\"abcdabcd\", \"b\", \"x\")", `{}`, `"axcdaxcd"`},
	{"iot-sql-functions regexp_matches", "", "regexp_matches(\"aaaa\", \"a{2,}\")", `{}`, `true`},
	{"iot-sql-functions regexp_matches", "", "regexp_matches(\"aaaa\", \"b\")", `{}`, `false`},
	{"iot-sql-functions regexp_replace", "", "regexp_replace(\"abcd\", \"bc\", \"x\")", `{}`, `"axd"`},
	{"iot-sql-functions regexp_replace", "", "regexp_replace(\"abcd\", \"b(.*)d\", \"$1\")", `{}`, `"ac"`},
	{"iot-sql-functions regexp_substr", "", "regexp_substr(\"hihihello\", \"hi\")", `{}`, `"hi"`},
	{"iot-sql-functions regexp_substr", "", "regexp_substr(\"hihihello\", \"(hi)*\")", `{}`, `"hihi"`},
	{"iot-sql-functions substring", "", "substring(\"012345\", 0)", `{}`, `"012345"`},
	{"iot-sql-functions substring", "", "substring(\"012345\", 2)", `{}`, `"2345"`},
	{"iot-sql-functions substring", "", "substring(\"012345\", 2.745)", `{}`, `"345"`},
	{"iot-sql-functions substring", "", "substring(123, 2)", `{}`, `"3"`},
	{"iot-sql-functions substring", "", "substring(\"012345\", -1)", `{}`, `"012345"`},
	{"iot-sql-functions substring", "", "substring(\"012345\", 100)", `{}`, `""`},
	{"iot-sql-functions substring", "", "substring(\"012345\", 2, 4)", `{}`, `"23"`},
	{"iot-sql-functions substring", "", "substring(\"012345\", 4, 2)", `{}`, `""`},
	{"iot-sql-functions md5", "", "md5(\"hello world\")", `{}`, `"5eb63bbbe01eeed093cb22bb8f5acdc3"`},
	{"iot-sql-functions sha1", "", "sha1(\"hello world\")", `{}`, `"2aae6c35c94fcfb415dbe95f408b9ce91ee846ed"`},
	{"iot-sql-functions sha224", "", "sha224(\"hello world\")", `{}`, `"2f05477fc24bb4faefd86517156dafdecec45b8ad3cf2522a563582b"`},
	{"iot-sql-functions sha256", "", "sha256(\"hello world\")", `{}`, `"b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"`},
	{"iot-sql-functions encode", "2016-03-23", "encode(*, 'base64')", `{"a":1}`, `"eyJhIjoxfQ=="`},
	{"iot-sql-functions decode", "2016-03-23", "decode('eyJhIjoxfQ==', 'base64').a", `{}`, `1`},
	{"iot-sql-functions decode", "2016-03-23", "decode('aGk=', 'base64')", `{}`, `"hi"`},
	{"iot-sql-functions decode", "2016-03-23", "decode('!!', 'base64')", `{}`, `null`},
	{"iot-sql-functions get", "", "get([\"a\", \"b\", \"c\"], 1)", `{}`, ``}, // array literals need 2016
	{"iot-sql-functions get", "2016-03-23", "get([\"a\", \"b\", \"c\"], 1)", `{}`, `"b"`},
	{"iot-sql-functions get", "", "get(\"abc\", 1)", `{}`, `"b"`},
	{"iot-sql-functions get", "", "get(\"abc\", 10)", `{}`, ``},
	{"iot-sql-json get", "", "get(get(mydata,\"item2\"),\"0\")", `{"mydata":{"item2":{"0":"zero"}}}`, `"zero"`},
	{"iot-sql-functions isNull", "", "isNull(5)", `{}`, `false`},
	{"iot-sql-functions isNull", "", "isNull(null)", `{}`, `true`},
	{"iot-sql-functions isNull", "", "isNull(missing)", `{}`, `false`},
	{"iot-sql-functions isUndefined", "2016-03-23", "isUndefined(missing)", `{}`, `true`},
	{"iot-sql-functions isUndefined", "2016-03-23", "isUndefined(null)", `{}`, `false`},
	{"iot-sql-functions cast", "", "cast(true AS Int)", `{}`, `1`},
	{"iot-sql-functions cast", "", "cast(\"2.3\" AS Int)", `{}`, `2`},
	{"iot-sql-functions cast", "", "cast(\"2.5\" AS Int)", `{}`, `2`},
	{"iot-sql-functions cast", "", "cast(2.9 AS Int)", `{}`, `2`},
	{"iot-sql-functions cast", "", "cast(3 AS String)", `{}`, `"3"`},
	{"iot-sql-functions cast", "2016-03-23", "cast(1 AS Bool)", `{}`, `true`},
	{"iot-sql-functions cast", "2016-03-23", "cast(0 AS Boolean)", `{}`, `false`},
	{"iot-sql-functions cast", "2016-03-23", "cast(\"true\" AS Boolean)", `{}`, `true`},
	{"iot-sql-functions cast", "2016-03-23", "cast(\"2.3\" AS Decimal)", `{}`, `2.3`},
	{"iot-sql-functions cast", "2016-03-23", "cast(\"foo\" AS Decimal)", `{}`, ``},
	{"iot-sql-functions topic", "", "topic()", `{}`, `"device/sensor/temp"`},
	{"iot-sql-functions topic", "", "topic(2)", `{}`, `"sensor"`},
	{"iot-sql-functions topic", "", "topic(9)", `{}`, ``},
	{"iot-sql-functions clientid", "", "clientid()", `{}`, `"dev-1"`},
	{"iot-sql-functions principal", "", "principal()", `{}`, `"abc123"`},
	{"iot-sql-functions accountid", "", "accountid()", `{}`, `"123456789012"`},
	{"iot-sql-functions sql_version", "2016-03-23", "sql_version()", `{}`, `"2016-03-23"`},
	{"iot-sql-functions timestamp", "", "timestamp()", `{}`, `1481825251155`},
	{"iot-sql-functions parse_time", "2016-03-23", "parse_time(\"yyyy-MM-dd'T'HH:mm:ss.SSSZ\", 1481825251155)", `{}`, `"2016-12-15T18:07:31.155+0000"`},
	{"iot-sql-functions parse_time", "2016-03-23", "parse_time(\"yyyy-MM-dd HH:mm:ss\", 1481825251155, 'America/Belize')", `{}`, `"2016-12-15 12:07:31"`},
	{"iot-sql-functions time_to_epoch", "2016-03-23", "time_to_epoch(\"2020-04-03 09:45:18 UTC+01:00\", \"yyyy-MM-dd HH:mm:ss VV\")", `{}`, `1585903518000`},
	{"iot-sql-functions time_to_epoch", "2016-03-23", "time_to_epoch(\"2007-12-03 10:15:30.592 America/Los_Angeles\", \"yyyy-MM-dd HH:mm:ss.SSS z\")", `{}`, `1196705730592`},
	{"iot-sql-functions time_to_epoch", "2016-03-23", "time_to_epoch(\"2020-04-03 09:45:18\", \"yyyy-MM-dd HH:mm:ss\")", `{}`, `1585907118000`},
	{"iot-sql-functions time_to_epoch", "2016-03-23", "time_to_epoch(\"18 December 2015\", \"dd MMMM yyyy\")", `{}`, `1450396800000`},
	{"iot-sql-functions transform", "2016-03-23", "transform(\"enrichArray\", attributes, values)", `{"attributes":{"data1":1,"data2":2},"values":[{"a":3},{"b":4},{"c":5}]}`, `[{"a":3,"data1":1,"data2":2},{"b":4,"data1":1,"data2":2},{"c":5,"data1":1,"data2":2}]`},
	{"iot-sql-functions get_mqtt_property", "", "get_mqtt_property('content_type')", `{}`, `"application/json"`},
	{"iot-sql-functions get_mqtt_property", "", "get_mqtt_property('format_indicator')", `{}`, `"UTF8_DATA"`},
	{"iot-sql-functions get_mqtt_property", "", "get_mqtt_property('correlation_data')", `{}`, `"Y29ycg=="`},
	{"iot-sql-functions get_user_properties", "", "get_user_properties('k')", `{}`, `["v1","v2"]`},
	{"iot-sql-functions sourceip", "", "sourceip()", `{}`, `"127.0.0.1"`},
	// Operators [iot-sql-operators].
	{"iot-sql-operators AND", "", "true AND false", `{}`, `false`},
	{"iot-sql-operators AND", "", "\"true\" AND true", `{}`, `true`},
	{"iot-sql-operators AND", "", "1 AND true", `{}`, ``},
	{"iot-sql-operators OR", "", "false OR true", `{}`, `true`},
	{"iot-sql-operators NOT", "", "NOT \"TRUE\"", `{}`, `false`},
	{"iot-sql-operators >", "", "5 > 3.2", `{}`, `true`},
	{"iot-sql-operators >", "", "\"10\" > 9", `{}`, `true`},
	{"iot-sql-operators >", "", "\"a\" > 1", `{}`, ``},
	{"iot-sql-operators =", "", "5 = 5.0", `{}`, `true`},
	{"iot-sql-operators =", "", "\"5\" = 5", `{}`, `false`},
	{"iot-sql-operators =", "", "a = b", `{"a":{"x":1,"y":[1,2]},"b":{"y":[1,2],"x":1}}`, `true`},
	{"iot-sql-operators =", "", "missing = 1", `{}`, ``},
	{"iot-sql-operators <>", "", "\"5\" <> 5", `{}`, `true`},
	{"iot-sql-operators <>", "", "null <> null", `{}`, `false`},
	{"iot-sql-operators +", "", "\"hi\" + 1", `{}`, `"hi1"`},
	{"iot-sql-operators +", "", "5 + 5", `{}`, `10`},
	{"iot-sql-operators +", "", "5 + 5.5", `{}`, `10.5`},
	{"iot-sql-operators +", "", "\"5\" + 5", `{}`, `"55"`},
	{"iot-sql-operators -", "", "\"10\" - 5", `{}`, `5.0`},
	{"iot-sql-operators /", "", "9 / 2", `{}`, `4`},
	{"iot-sql-operators /", "", "9 / 2.0", `{}`, `4.5`},
	{"iot-sql-operators %", "", "9 % 2", `{}`, `1`},
	{"iot-sql-operators *", "", "3 * 2.5", `{}`, `7.5`},
	{"iot-sql-operators *", "2016-03-23", "4 * 2.5", `{}`, `10`},
	{"iot-sql-operators *", "", "4 * 2.5", `{}`, `10.0`},
	// SELECT, JSON, literals, CASE, nested queries.
	{"iot-sql-select", "", "color.red", `{"color":{"red":255}}`, `255`},
	{"iot-sql-select", "", "a.b.c", `{"a":{"b":{"c":"deep"}}}`, `"deep"`},
	{"iot-sql-json", "", "items[1]", `{"items":[10,20,30]}`, `20`},
	{"iot-sql-literals", "2016-03-23", "{'latitude': get(lat_long, 0), 'longitude': get(lat_long, 1)}", `{"lat_long":[47.6,-122.3]}`, `{"latitude":47.6,"longitude":-122.3}`},
	{"iot-sql-literals", "2016-03-23", "[lat, long]", `{"lat":1,"long":2}`, `[1,2]`},
	{"iot-sql-case", "", "CASE color WHEN 'green' THEN 'go' WHEN 'yellow' THEN 'caution' WHEN 'red' THEN 'stop' ELSE 'you are not at a stop light' END", `{"color":"yellow"}`, `"caution"`},
	{"iot-sql-case", "", "CASE color WHEN 'green' THEN 'go' END", `{"color":"blue"}`, ``},
	{"iot-sql-case", "", "CASE missing WHEN 'green' THEN 'go' ELSE 'x' END", `{}`, ``},
	{"iot-sql-nested-queries", "2016-03-23", "(SELECT VALUE n FROM e)", `{"e":[{"n":"temperature","v":30},{"n":"humidity","v":60}]}`, `["temperature","humidity"]`},
	{"iot-sql-nested-queries", "2016-03-23", "(SELECT v FROM e WHERE n = 'temperature')", `{"e":[{"n":"temperature","v":30},{"n":"humidity","v":60}]}`, `[{"v":30}]`},
	{"iot-sql-nested-queries", "2016-03-23", "get((SELECT v FROM e WHERE n = 'humidity'), 0).v", `{"e":[{"n":"temperature","v":30},{"n":"humidity","v":60}]}`, `60`},
	{"iot-sql-data-types", "", "10.0", `{}`, `10.0`},
	{"iot-sql-data-types", "2016-03-23", "10.0", `{}`, `10`},
	{"iot-sql-data-types", "", "NULL", `{}`, `null`},
}

func conformanceMessage(payload string) *Message {
	pf := byte(1)
	return &Message{
		Topic: "device/sensor/temp", Payload: []byte(payload), ClientID: "dev-1", Principal: "abc123",
		SourceIP: "127.0.0.1", ContentType: "application/json", PayloadFormat: &pf,
		CorrelationData: []byte("corr"), UserProperties: [][2]string{{"k", "v1"}, {"k", "v2"}, {"x", "y"}},
	}
}

func TestConformance(t *testing.T) {
	opts := &Options{Now: func() time.Time { return time.UnixMilli(1481825251155) }}
	for _, tc := range conformance {
		t.Run(tc.doc+" "+tc.expr, func(t *testing.T) {
			st, err := Parse("SELECT VALUE "+tc.expr+" FROM 'device/+/temp'", tc.version)
			if err != nil {
				if tc.want == "" && strings.Contains(err.Error(), "2016-03-23") {
					return // refused under 2015-10-08, as the version table says
				}
				t.Fatalf("parse: %v", err)
			}
			ev := st.Evaluate(conformanceMessage(tc.payload), opts)
			if !ev.Matched {
				t.Fatal("not matched")
			}
			if got := string(ev.Payload()); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
