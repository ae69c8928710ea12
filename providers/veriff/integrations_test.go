package veriff_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/idvflow/idvflow/internal/envconf"
	veriffp "github.com/idvflow/idvflow/providers/veriff"
)

// TestSignVector: the signature of a session id (what a GET signs),
// computed independently:
//
//	printf '%s' 1eb0fb38-3ad5-4a2e-9b52-f7a8f1f1d3a9 | openssl dgst -sha256 -hmac secret
func TestSignVector(t *testing.T) {
	const (
		payload = "1eb0fb38-3ad5-4a2e-9b52-f7a8f1f1d3a9"
		want    = "e434bde018c083ffb1c3ddb87117b660ba6a39c2ca03ca2533b1b3b681354796"
	)
	if got := veriffp.Sign([]byte("secret"), []byte(payload)); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
	for name, tc := range map[string]struct {
		secrets []string
		sig     string
		ok      bool
	}{
		"current secret":      {[]string{"secret"}, want, true},
		"rotated, second":     {[]string{"new", "secret"}, want, true},
		"upper-case hex":      {[]string{"secret"}, strings.ToUpper(want), true},
		"other secret":        {[]string{"new"}, want, false},
		"no secrets":          {nil, want, false},
		"truncated signature": {[]string{"secret"}, want[:62], false},
		"empty signature":     {[]string{"secret"}, "", false},
	} {
		var secrets [][]byte
		for _, s := range tc.secrets {
			secrets = append(secrets, []byte(s))
		}
		if got := veriffp.Verify(secrets, []byte(payload), tc.sig); got != tc.ok {
			t.Errorf("%s: Verify = %v, want %v", name, got, tc.ok)
		}
	}
}

type cfg struct{ Veriff veriffp.Config }

func (c *cfg) Expand(ctx context.Context, l envconfig.Lookuper) []error {
	return c.Veriff.Expand(ctx, l)
}
func (c *cfg) Validate() []error { return c.Veriff.Validate() }

func TestIntegrationsFromTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		want  []string // integration names, or
		fails string   // a variable the error names
	}{
		{"single", map[string]string{"VERIFF_API_KEY": "k", "VERIFF_SHARED_SECRETS": "5a7d1e0c-9b3f-4c21-8e6a-000000000009"}, []string{"default"}, ""},
		{"none", map[string]string{}, nil, ""},
		{"two named", map[string]string{"VERIFF_INTEGRATIONS": "web,mobile",
			"VERIFF_WEB_API_KEY": "a", "VERIFF_WEB_SHARED_SECRETS": "5a7d1e0c-9b3f-4c21-8e6a-000000000001,5a7d1e0c-9b3f-4c21-8e6a-000000000000", "VERIFF_MOBILE_API_KEY": "b", "VERIFF_MOBILE_SHARED_SECRETS": "5a7d1e0c-9b3f-4c21-8e6a-000000000002"},
			[]string{"web", "mobile"}, ""},
		{"default and named", map[string]string{"VERIFF_API_KEY": "k", "VERIFF_SHARED_SECRETS": "5a7d1e0c-9b3f-4c21-8e6a-000000000009", "VERIFF_INTEGRATIONS": "web",
			"VERIFF_WEB_API_KEY": "a", "VERIFF_WEB_SHARED_SECRETS": "5a7d1e0c-9b3f-4c21-8e6a-000000000001"}, []string{"default", "web"}, ""},
		{"named without secrets", map[string]string{"VERIFF_INTEGRATIONS": "web", "VERIFF_WEB_API_KEY": "a"}, nil, "VERIFF_WEB_SHARED_SECRETS"},
		{"same key twice", map[string]string{"VERIFF_API_KEY": "a", "VERIFF_SHARED_SECRETS": "5a7d1e0c-9b3f-4c21-8e6a-000000000009", "VERIFF_INTEGRATIONS": "web",
			"VERIFF_WEB_API_KEY": "a", "VERIFF_WEB_SHARED_SECRETS": "5a7d1e0c-9b3f-4c21-8e6a-000000000001"}, nil, "same API key"},
		{"bad name", map[string]string{"VERIFF_INTEGRATIONS": "Web App"}, nil, "VERIFF_INTEGRATIONS"},
		{"placeholder secret", map[string]string{"VERIFF_API_KEY": "k", "VERIFF_SHARED_SECRETS": "your-veriff-shared-secret"}, nil, "VERIFF_SHARED_SECRETS is a placeholder"},
		{"short secret", map[string]string{"VERIFF_API_KEY": "k", "VERIFF_SHARED_SECRETS": "s3cret"}, nil, "VERIFF_SHARED_SECRETS is shorter"},
		{"placeholder key", map[string]string{"VERIFF_API_KEY": "your-veriff-api-key", "VERIFF_SHARED_SECRETS": "5a7d1e0c-9b3f-4c21-8e6a-000000000003"}, nil, "VERIFF_API_KEY is a placeholder"},
		{"reserved name", map[string]string{"VERIFF_INTEGRATIONS": "default"}, nil, "VERIFF_INTEGRATIONS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c cfg
			err := envconf.Load(context.Background(), &c, envconfig.MapLookuper(tc.env))
			if tc.fails != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fails) {
					t.Fatalf("error %v, want one naming %s", err, tc.fails)
				}
				for k, v := range tc.env {
					secret := strings.Contains(k, "KEY") || strings.Contains(k, "SECRET")
					if secret && len(v) > 1 && strings.Contains(err.Error(), v) {
						t.Fatalf("the error echoes a value: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, in := range c.Veriff.Integrations() {
				names = append(names, in.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("integrations %v, want %v", names, tc.want)
			}
		})
	}
}

func TestFind(t *testing.T) {
	ins := []veriffp.Integration{{Name: "web", APIKey: "a"}, {Name: "mobile", APIKey: "b"}, {Name: "empty"}}
	for key, want := range map[string]string{"a": "web", "b": "mobile", "": "", "c": "", "ab": ""} {
		in, ok := veriffp.Find(ins, key)
		if in.Name != want || ok != (want != "") {
			t.Errorf("Find(%q) = %q %v, want %q", key, in.Name, ok, want)
		}
	}
}
