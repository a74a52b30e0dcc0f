package probe

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the attempts as a table, then each narrative.
func WriteTable(w io.Writer, attempts []Attempt) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tALPN OFFERED\tTLS\tSNI\tCERT READY/REQUESTED/SENT\tRESULT\tALPN SELECTED\tAPP")
	for i, a := range attempts {
		offered := strings.Join(a.ALPNOffered, ",")
		if offered == "" {
			offered = "(none)"
		}
		sni := a.SNI
		if sni == "" {
			sni = "(none)"
		}
		result := "handshake ok"
		switch {
		case a.Alert != nil && a.TLSVersion == "":
			result = fmt.Sprintf("alert %d %s", a.Alert.Code, a.Alert.Name)
		case a.Error != "" && a.TLSVersion == "":
			result = "failed"
		}
		selected := a.ALPNSelected
		if selected == "" {
			selected = "-"
		}
		app := "-"
		switch {
		case a.MQTT != nil && a.MQTT.Connack != nil:
			app = fmt.Sprintf("CONNACK %d", *a.MQTT.Connack)
		case a.MQTT != nil && a.Alert != nil:
			app = fmt.Sprintf("alert %d %s", a.Alert.Code, a.Alert.Name)
		case a.MQTT != nil:
			app = "closed, no CONNACK"
		case a.HTTP != nil:
			app = fmt.Sprintf("HTTP %d", a.HTTP.Status)
		case a.TLSVersion != "" && a.Alert != nil:
			app = fmt.Sprintf("alert %d %s", a.Alert.Code, a.Alert.Name)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s/%s/%s\t%s\t%s\t%s\n", i+1, offered, a.TLSVersionOffered, sni,
			yesNo(a.CertificateReady), yesNo(a.CertificateRequested), yesNo(a.CertificateSent), result, selected, app)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for i, a := range attempts {
		if _, err := fmt.Fprintf(w, "%d. %s\n", i+1, a.Narrative); err != nil {
			return err
		}
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// WriteJSON writes the attempts as a JSON array.
func WriteJSON(w io.Writer, attempts []Attempt) error {
	if attempts == nil {
		attempts = []Attempt{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(attempts)
}
