package main

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/tracker"
)

// ZeekFlags holds the options of the Zeek-compatible output and of the
// switches that make wirestate see a capture as a given Zeek run did.
type ZeekFlags struct {
	// Mode turns on Zeek's connection lifetime rules (--zeek-mode);
	// --format zeek implies it.
	Mode bool
	// Bare imitates zeek -b: likely_server_ports holds only the ports of
	// the protocol scripts named in Load.
	Bare bool
	// Load names protocol scripts (base/protocols/NAME) loaded in bare
	// mode, whose ports count as likely server ports.
	Load []string
	// IgnoreChecksums is Zeek's -C: in Zeek mode, TCP checksums are not
	// verified. Without it, Zeek mode verifies them as Zeek does: a segment
	// with a bad checksum is counted (history C/c) and otherwise ignored.
	IgnoreChecksums bool
	// ValidateChecksums verifies TCP checksums outside Zeek mode too.
	ValidateChecksums bool
}

// registerZeekFlags adds the Zeek options to fs.
func registerZeekFlags(fs *pflag.FlagSet, z *ZeekFlags) {
	fs.BoolVar(&z.Mode, "zeek-mode", false, "end connections by Zeek's timers and port-reuse rules, so that records match Zeek's conn.log rows (implied by --format zeek)")
	fs.BoolVar(&z.Bare, "zeek-bare", false, "choose originators as zeek -b does: no likely server ports but those of --zeek-load")
	fs.StringSliceVar(&z.Load, "zeek-load", nil, "with --zeek-bare, protocol scripts loaded (http, krb, ftp, ...), whose ports are likely server ports")
	fs.BoolVarP(&z.IgnoreChecksums, "ignore-checksums", "C", false, "in Zeek mode, do not verify TCP checksums (Zeek's -C)")
	fs.BoolVar(&z.ValidateChecksums, "validate-checksums", false, "verify TCP checksums and ignore segments with bad ones (default: only in Zeek mode, as Zeek does; off otherwise because captures taken on a sending host with checksum offload show every outgoing segment with a bad checksum)")
}

// zeekMode reports whether Zeek's lifetime rules are on.
func zeekMode(fl *Flags) bool { return fl.Zeek.Mode || fl.Format == "zeek" }

// zeekTrackerConfig returns the tracker's Zeek configuration for fl, nil
// when Zeek's lifetime rules are off.
func zeekTrackerConfig(fl *Flags) (*tracker.ZeekConfig, error) {
	if !zeekMode(fl) {
		if fl.Zeek.Bare || len(fl.Zeek.Load) > 0 {
			return nil, fmt.Errorf("--zeek-bare and --zeek-load need --zeek-mode or --format zeek")
		}
		return nil, nil
	}
	cfg := &tracker.ZeekConfig{}
	switch {
	case fl.Zeek.Bare:
		ports, err := tracker.ZeekServerPorts(append([]string{"none"}, fl.Zeek.Load...)...)
		if err != nil {
			return nil, fmt.Errorf("--zeek-load: %v", err)
		}
		cfg.LikelyServerPorts = ports
	case len(fl.Zeek.Load) > 0:
		return nil, fmt.Errorf("--zeek-load needs --zeek-bare (a full Zeek loads every protocol script)")
	}
	return cfg, nil
}

// zeekDecoderOptions returns the capture decoder options the checksum flag
// selects.
//
// wirestate's own analysis does not verify checksums by default: on the
// sending host, checksum offload leaves every outgoing segment's checksum
// unfilled in the capture, and dropping those would blind the analysis to
// half of every connection (tcpdump and Wireshark do not verify by default
// either). Zeek mode verifies unless -C, as Zeek does.
func zeekDecoderOptions(fl *Flags) capture.DecoderOptions {
	validate := fl.Zeek.ValidateChecksums || zeekMode(fl) && !fl.Zeek.IgnoreChecksums
	return capture.DecoderOptions{ValidateChecksums: validate}
}
