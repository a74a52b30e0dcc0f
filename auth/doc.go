// Package auth holds identity and the AWS IoT policy language.
//
// The policy half works in three steps, each done as rarely as possible:
//
//   - ParseDocument validates a policy document once, when it is stored, and reports the first
//     problem by field name ("Statement[1].Effect: ...",
//     "Statement[0].Condition.Bool.iot:Connection.Thing.IsAttached: ...") the way AWS refuses a
//     malformed policy.
//   - Compile turns the policies attached to one connection into matchers once, at CONNECT:
//     policy variables (${iot:ClientId}, ${iot:Connection.Thing.*}, ${iot:Certificate.*}, ...)
//     are substituted with what the connection knows, every Condition is evaluated (they depend
//     only on the connection) and statements whose Condition is false are set aside, the ARN
//     prefix of every resource pattern is checked against the connection's partition, region
//     and account, and each statement records which of the MQTT actions it covers as a bit mask.
//   - Decide answers one authorization question (iot:Publish on topic/a/b, ...) with no
//     allocation, because it runs for every publish, subscription filter and delivery. Explain
//     answers the same question with a human-readable reason, for logs and transcripts.
//
// Evaluation follows AWS IoT (IAM) semantics: default deny, an explicit Deny in any policy wins
// over every Allow, actions match case-insensitively, resources match case-sensitively over the
// whole ARN with `*` (any run, crossing `/`) and `?` (one character), and MQTT's `+` and `#` are
// ordinary characters in resources.
//
// # Conditions
//
// A Condition block is an AND across its operators and across the keys under each operator, and
// an OR across the values given for one key. The operators are StringEquals, StringNotEquals,
// StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike, StringNotLike, the six Numeric
// operators, Bool, IpAddress, NotIpAddress, ArnEquals, ArnLike, ArnNotEquals, ArnNotLike and
// Null, with the ForAnyValue: / ForAllValues: prefixes and the IfExists suffix. The keys are
// aws:SourceIp, iot:ClientId, iot:DomainName, iot:ConnectAttributes (multi-valued),
// iot:LastWillTopic, iot:Connection.Thing.{ThingName, ThingTypeName, Attributes[name],
// IsAttached} and the iot:Certificate.* keys; every other key has no value.
//
// A key with no value makes a positive operator false and a negated one (StringNot*,
// NumericNotEquals, NotIpAddress, ArnNot*) true, as IAM documents; ...IfExists holds when the key
// has no value; ForAllValues: holds when the key has no value, ForAnyValue: does not; Null
// "true" holds when the key has no value.
//
// # Choices
//
// Where AWS leaves the behaviour open, the emulator chooses as follows (each is tested):
//
//   - Operator names and set prefixes are case-sensitive, spelled as IAM spells them; a
//     misspelling in case is refused with the right spelling suggested. Condition key names
//     are case-insensitive (IAM); the name inside Attributes[...] is case-sensitive (thing
//     attribute names are).
//   - Date* and BinaryEquals are refused at parse: AWS IoT provides no date or binary key, and
//     conditions are evaluated once per connection, so a time condition could not be honoured.
//   - Unknown condition keys are accepted and have no value (only IfExists and Null can hold on
//     them); they are not a parse error.
//   - Condition values may be strings, numbers or booleans (used as their JSON text), or a list
//     of them, including the empty list AWS's own iot:ConnectAttributes examples use. An
//     operator object with no keys, like an empty Condition, is no condition.
//   - Bool and Null values must be "true" or "false" in any case (or JSON booleans), IpAddress
//     values a CIDR block or a single address (its one-address block; host bits below the
//     prefix are ignored), Numeric values decimal numbers; anything else is a parse error
//     naming the value. A key value of the wrong shape (not a boolean, address, number or ARN)
//     matches nothing, so the negated operators hold on it.
//   - Policy variables are substituted in the values of the String and Arn operators only (as
//     IAM), and only in documents of Version 2012-10-17. A variable with no value stays as its
//     literal text "${name}", in conditions as in resources (AWS IoT's documented behaviour
//     for certificate variables): StringEquals then fails and StringNotEquals holds.
//   - Without a set prefix, a multi-valued key matches when any of its values matches (negated:
//     when none does). With a prefix on a single-valued key, the key is a one-value set.
//     ForAnyValue: on a key with no value is false even for a negated operator.
//   - iot:ConnectAttributes with neither attribute is an empty set, treated as a key with no
//     value (ForAllValues: holds, ForAnyValue: fails, Null "true" holds): this is what AWS's
//     "ForAllValues:StringEquals": {"iot:ConnectAttributes": []} example requires.
//   - The connection-level keys (iot:ConnectAttributes, iot:LastWillTopic, aws:SourceIp, ...)
//     have their values for every action of the connection, not only iot:Connect, because
//     conditions are evaluated once at CONNECT.
//   - iot:LastWillTopic is the will topic's ARN (arn:aws:iot:REGION:ACCOUNT:topic/TOPIC): AWS's
//     examples test it with ArnEquals against such ARNs.
//   - ArnEquals and ArnLike are the same operator (as in IAM): the six ARN fields are matched
//     one by one with `*` and `?`, so a wildcard never crosses a colon except in the last field.
//     "*" matches any ARN; a value with fewer than six fields matches nothing.
//   - aws:SourceIp is written in its shortest form; an IPv4 address carried in IPv6
//     (::ffff:a.b.c.d) is IPv4, for the key and for IPv4-mapped CIDR blocks alike.
//   - ${aws:SourceIp} and ${iot:DomainName} are substituted in resources too, like every
//     single-valued key.
//   - The thing keys have values only when a thing is bound to the connection (see
//     Environment); IsAttached is then "true" or "false".
//   - A hand-built Statement whose Condition cannot be evaluated fails closed: an Allow grants
//     nothing, a Deny applies as if unconditional.
//   - IAM's default values for variables (${key, 'default'}) are not supported: such a
//     variable has no value.
//
// Certificate keys and variables (iot:Certificate.*):
//
//   - `.N` is zero-based: `.0` is the first value and `.1` the second, as AWS's example shows,
//     although one version of the page calls the index one-based. The plain name is `.0`.
//   - Only the first five values of an attribute are read ("arrays are limited to five
//     items"): `.5` and beyond have no value.
//   - A value longer than 1024 characters (counted in Unicode characters), or containing any
//     of the characters `* $ + ? #`, has no value, so a variable naming it stays literal; this
//     applies to condition keys as well as to variables.
//   - `.List` is multi-valued: the values among the first five that have a value on their own,
//     in certificate order; with none, the key has no value. Being multi-valued, `.List` (like
//     iot:Certificate.AvailableKeys and iot:ConnectAttributes) is usable as a condition key but
//     never substituted as a variable: in a resource or a condition value it stays literal, as
//     IAM never substitutes multi-valued keys.
//   - "The first value" is the first in the certificate's DER encoding.
//   - Subject and issuer attribute values have the characters , " \ + = < > ; escaped with a
//     backslash, per AWS's "Special characters" rule (so O=a,b is "a\,b"). Alternative names
//     other than DirectoryName are not escaped.
//   - DirectoryName is rendered as in AWS's example, "cn=LightBulbCert,ou=SmartHome,o=IoT,c=US":
//     last RDN first, comma-separated, lowercase attribute type names (cn, c, l, st, street, o,
//     ou, title, sn, givenname, initials, generationqualifier, dnqualifier, pseudonym,
//     serialnumber, postalcode, dc, uid, emailaddress; others as dotted OIDs). A multi-valued
//     RDN is joined with "+", which makes the value unusable.
//   - IPAddress is the address in its shortest text form (1.2.3.4, 2001:db8::1).
//   - iot:Certificate.Issuer.AlternativeName.* comes from the device certificate's Issuer
//     Alternative Name extension (not from the CA's certificate).
//   - iot:Certificate.SerialNumber is the certificate serial in decimal, as AWS documents;
//     iot:Certificate.Subject.SerialNumber is the subject's serialNumber attribute.
//   - iot:Certificate.AvailableKeys lists the full names ("iot:Certificate.Subject.CommonName")
//     of the attributes whose plain form has a value: subject attributes, subject alternative
//     names, issuer attributes, issuer alternative names, then SerialNumber. It is not capped.
package auth
