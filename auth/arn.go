package auth

// ResourceARN is the ARN AWS IoT authorizes for a resource of this connection:
// arn:PARTITION:iot:REGION:ACCOUNT:TYPE/NAME. Decide matches against this string without
// building it; ResourceARN is for messages and logs.
func ResourceARN(env Environment, resourceType, name string) string {
	return "arn:" + env.partition() + ":iot:" + env.Region + ":" + env.Account + ":" + resourceType + "/" + name
}
