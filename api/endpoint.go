package api

// endpointTypes are the endpointType values DescribeEndpoint knows. They all answer the one
// emulator host: it serves the data, jobs and credential-provider personalities on the same
// listeners.
var endpointTypes = map[string]bool{
	"iot:Data":               true,
	"iot:Data-ATS":           true,
	"iot:CredentialProvider": true,
	"iot:Jobs":               true,
}

// describeEndpointResponse is DescribeEndpoint's output.
type describeEndpointResponse struct {
	EndpointAddress string `json:"endpointAddress"`
}

// describeEndpoint is DescribeEndpoint: GET /endpoint?endpointType. No endpointType is the
// legacy iot:Data, as in AWS; an unknown one is an InvalidRequestException.
func (s *server) describeEndpoint(c *call) (any, error) {
	typ := c.query("endpointType")
	if typ == "" {
		typ = "iot:Data"
	}
	if !endpointTypes[typ] {
		return nil, invalidRequest("endpointType: %q is not one of iot:Data, iot:Data-ATS, iot:CredentialProvider, iot:Jobs", typ)
	}
	return describeEndpointResponse{EndpointAddress: s.cfg.Endpoint}, nil
}
