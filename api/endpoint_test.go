package api_test

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

func TestDescribeEndpoint(t *testing.T) {
	e := newEnv(t)
	for _, typ := range []*string{nil, aws.String("iot:Data"), aws.String("iot:Data-ATS"), aws.String("iot:CredentialProvider"), aws.String("iot:Jobs")} {
		out, err := e.iot.DescribeEndpoint(e.ctx, &iot.DescribeEndpointInput{EndpointType: typ})
		if err != nil {
			t.Fatalf("DescribeEndpoint(%v): %v", aws.ToString(typ), err)
		}
		if aws.ToString(out.EndpointAddress) != testEndpoint {
			t.Errorf("DescribeEndpoint(%v) = %q, want %q", aws.ToString(typ), aws.ToString(out.EndpointAddress), testEndpoint)
		}
	}
	_, err := e.iot.DescribeEndpoint(e.ctx, &iot.DescribeEndpointInput{EndpointType: aws.String("iot:Nope")})
	wantErr[*types.InvalidRequestException](t, err, http.StatusBadRequest)
}
