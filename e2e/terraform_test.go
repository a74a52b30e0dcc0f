package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iot"
	"github.com/aws/aws-sdk-go-v2/service/iot/types"
)

// terraformProvider is the AWS provider version the test configuration pins.
const terraformProvider = "registry.terraform.io/hashicorp/aws/5.100.0"

// providerMirrorEnv names a filesystem mirror holding the AWS provider (a folder with
// registry.terraform.io/hashicorp/aws/5.100.0/<os>_<arch>/ inside).
const providerMirrorEnv = "IOTCORE_TF_MIRROR"

// findProviderMirror looks for a filesystem mirror holding the AWS provider: $IOTCORE_TF_MIRROR,
// the filesystem_mirror paths of the Terraform CLI configuration, Terraform's implicit local
// mirror folders, the plugin cache, and the folders one level below /opt (where machine images
// tend to put plugins). It returns "" when none has it.
func findProviderMirror() string {
	var candidates []string
	if v := os.Getenv(providerMirrorEnv); v != "" {
		candidates = append(candidates, v)
	}
	home, _ := os.UserHomeDir()
	cliConfigs := []string{os.Getenv("TF_CLI_CONFIG_FILE")}
	if home != "" {
		cliConfigs = append(cliConfigs, filepath.Join(home, ".terraformrc"))
	}
	pathRE := regexp.MustCompile(`(?m)^\s*path\s*=\s*"([^"]+)"`)
	for _, f := range cliConfigs {
		if f == "" {
			continue
		}
		if data, err := os.ReadFile(f); err == nil {
			for _, m := range pathRE.FindAllStringSubmatch(string(data), -1) {
				candidates = append(candidates, m[1])
			}
		}
	}
	if home != "" {
		candidates = append(candidates, filepath.Join(home, ".terraform.d", "plugins"), filepath.Join(home, ".local", "share", "terraform", "plugins"))
	}
	if xdg := os.Getenv("XDG_DATA_HOME"); xdg != "" {
		candidates = append(candidates, filepath.Join(xdg, "terraform", "plugins"))
	}
	candidates = append(candidates, os.Getenv("TF_PLUGIN_CACHE_DIR"), "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins")
	if opt, err := filepath.Glob("/opt/*"); err == nil {
		candidates = append(candidates, opt...)
	}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(c, filepath.FromSlash(terraformProvider))); err == nil && st.IsDir() {
			return c
		}
	}
	return ""
}

// tf runs terraform commands in one working folder with an offline CLI configuration.
type tf struct {
	t   *testing.T
	dir string
	env []string
}

// run runs terraform with args and returns its exit code and output; a failure to start, or a
// code not in okCodes, fails the test.
func (r *tf) run(args []string, okCodes ...int) (int, string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "terraform", args...)
	cmd.Dir = r.dir
	cmd.Env = r.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		r.t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	r.t.Logf("terraform %s: exit %d after %v", args[0], code, time.Since(start).Round(time.Second))
	for _, ok := range okCodes {
		if code == ok {
			return code, out.String()
		}
	}
	r.t.Fatalf("terraform %s: exit %d, want %v\n%s", strings.Join(args, " "), code, okCodes, out.String())
	return code, ""
}

// TestTerraform applies a configuration declaring every aws_iot_* resource the emulator serves
// with Terraform and the AWS provider 5.100.0 (offline, from a filesystem mirror), plans again
// expecting no changes, changes most resources, plans again, connects a device with the
// certificate Terraform made, fetches credentials with it, and destroys everything.
//
// Terraform is not a Debian package and CI installs only Debian packages, npm and Go modules,
// so on a machine without Terraform or the provider mirror the test skips, in CI too. Each
// terraform command starts the provider (a large binary), so the test takes minutes; -short
// skips it.
func TestTerraform(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: the Terraform run takes minutes")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform is not on PATH: install Terraform (1.11 or later) to run the Terraform test (CI has no Terraform)")
	}
	mirror := findProviderMirror()
	if mirror == "" {
		t.Skipf("no filesystem mirror holding %s: set %s to a folder that has it (see README, Terraform)", terraformProvider, providerMirrorEnv)
	}
	t.Parallel()
	emu := startEmulator(t, "")
	ctx := t.Context()

	work := t.TempDir()
	cliConfig := filepath.Join(work, "cli.tfrc")
	if err := writeFile(cliConfig, []byte(fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
`, mirror))); err != nil {
		t.Fatal(err)
	}
	main, err := os.ReadFile(filepath.Join("testdata", "terraform", "main.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(work, "main.tf"), main); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "TF_") {
			env = append(env, kv)
		}
	}
	env = append(env, "TF_CLI_CONFIG_FILE="+cliConfig, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"TF_DATA_DIR="+filepath.Join(work, ".terraform"), "AWS_EC2_METADATA_DISABLED=true")
	r := &tf{t: t, dir: work, env: env}
	vars := func(phase int) []string {
		return []string{"-input=false", "-no-color", "-var", "endpoint=" + emu.APIURL(), "-var", fmt.Sprintf("phase=%d", phase)}
	}

	r.run([]string{"init", "-input=false", "-no-color"}, 0)
	r.run(append([]string{"apply", "-auto-approve"}, vars(1)...), 0)
	// -detailed-exitcode: 0 is an empty plan, 2 a plan with changes (a failure here).
	r.run(append([]string{"plan", "-detailed-exitcode"}, vars(1)...), 0)
	r.run(append([]string{"apply", "-auto-approve"}, vars(2)...), 0)
	r.run(append([]string{"plan", "-detailed-exitcode"}, vars(2)...), 0)

	// What Terraform made is what the API holds.
	admin := iotClientAt(awsConfig(awsKey("AKID", "SECRET"), nil), emu.APIURL())
	ra, err := admin.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("tf-role")})
	if err != nil || aws.ToInt32(ra.RoleAliasDescription.CredentialDurationSeconds) != 7200 {
		t.Fatalf("role alias after the update: %v %+v", err, ra)
	}
	lo, err := admin.GetV2LoggingOptions(ctx, &iot.GetV2LoggingOptionsInput{})
	if err != nil || lo.DefaultLogLevel != types.LogLevelInfo {
		t.Fatalf("logging options after the update: %v %+v", err, lo)
	}

	// The device Terraform made connects over MQTT and fetches credentials.
	_, outputs := r.run([]string{"output", "-json", "-no-color"}, 0)
	var out map[string]struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal([]byte(outputs), &out); err != nil {
		t.Fatalf("terraform output: %v\n%s", err, outputs)
	}
	certPEM, keyPEM := out["certificate_pem"].Value, out["private_key"].Value
	if out["credentials_endpoint"].Value == "" || certPEM == "" || keyPEM == "" {
		t.Fatalf("outputs %v", out)
	}
	client, err := connectPaho(t, emu.MQTTAddr(), "tf-dev", keyPairTLS(t, emu, certPEM, keyPEM), nil)
	if err != nil {
		t.Fatalf("connect with the certificate Terraform made: %v", err)
	}
	handler, messages := msgCollector()
	if err := wait(t, client.Subscribe("tf/#", 1, handler)); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, client.Publish("tf/hello", 1, false, "made by terraform")); err != nil {
		t.Fatal(err)
	}
	if m := nextMessage(t, messages, "the device's own publish"); m.payload != "made by terraform" {
		t.Fatalf("got %+v", m)
	}
	search, err := admin.SearchIndex(ctx, &iot.SearchIndexInput{QueryString: aws.String("connectivity.connected:true AND attributes.floor:3")})
	if err != nil || len(search.Things) != 1 || aws.ToString(search.Things[0].ThingName) != "tf-dev" {
		t.Fatalf("SearchIndex for the connected device: %v %+v", err, search)
	}
	hc := httpsClientFor(t, keyPairTLS(t, emu, certPEM, keyPEM))
	req, err := http.NewRequestWithContext(ctx, "GET", "https://"+emu.HTTPSAddr()+"/role-aliases/tf-role/credentials", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-amzn-iot-thingname", "tf-dev")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "sessionToken") {
		t.Fatalf("credentials with the Terraform certificate: %d %s", resp.StatusCode, body)
	}
	client.Disconnect(100)

	r.run(append([]string{"destroy", "-auto-approve"}, vars(2)...), 0)
	things, err := admin.ListThings(ctx, &iot.ListThingsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range things.Things {
		if aws.ToString(th.ThingName) == "tf-dev" {
			t.Fatal("tf-dev survived terraform destroy")
		}
	}
	if _, err := admin.DescribeRoleAlias(ctx, &iot.DescribeRoleAliasInput{RoleAlias: aws.String("tf-role")}); err == nil {
		t.Fatal("tf-role survived terraform destroy")
	}
}
