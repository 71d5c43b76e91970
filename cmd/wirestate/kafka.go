package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wirestate/wirestate/sink/kafka"
)

// KafkaFlags holds the options of the Kafka output.
type KafkaFlags struct {
	// Brokers is the comma-separated seed broker list (--kafka); empty:
	// no Kafka output.
	Brokers string
	// Topic is the topic prefix (--kafka-topic).
	Topic string
	// FlushTimeout bounds the final flush (--kafka-flush-timeout).
	FlushTimeout time.Duration
	// TLS connects with TLS; CA, Cert and Key are PEM files.
	TLS           bool
	CA, Cert, Key string
	SASLMechanism string
	SASLUser      string
	SASLPassword  string
}

// saslPasswordEnv is the environment variable read for the SASL password
// when --kafka-sasl-password is not given (a password on the command line
// shows in ps).
const saslPasswordEnv = "WIRESTATE_KAFKA_SASL_PASSWORD"

// registerKafkaFlags adds the Kafka options to fs.
func registerKafkaFlags(fs *pflag.FlagSet, k *KafkaFlags) {
	fs.StringVar(&k.Brokers, "kafka", "", "also produce every record to Kafka: seed `BROKERS` (host:port, comma-separated); values are the --format json objects")
	fs.StringVar(&k.Topic, "kafka-topic", kafka.DefaultTopicPrefix, "Kafka topic `PREFIX`: records go to PREFIX.conn, PREFIX.anomaly, PREFIX.stats and PREFIX.summary")
	fs.DurationVar(&k.FlushTimeout, "kafka-flush-timeout", kafka.DefaultFlushTimeout, "at the end (or on SIGINT), wait at most this long for Kafka to take the buffered records; offline, also give the cluster up after this long without a delivery")
	fs.BoolVar(&k.TLS, "kafka-tls", false, "connect to Kafka with TLS")
	fs.StringVar(&k.CA, "kafka-tls-ca", "", "Kafka TLS: trust the CA certificates in `FILE` (PEM) instead of the system's")
	fs.StringVar(&k.Cert, "kafka-tls-cert", "", "Kafka TLS: client certificate `FILE` (PEM)")
	fs.StringVar(&k.Key, "kafka-tls-key", "", "Kafka TLS: client key `FILE` (PEM)")
	fs.StringVar(&k.SASLMechanism, "kafka-sasl-mechanism", "", "Kafka SASL `MECHANISM`: "+strings.Join(kafka.Mechanisms, ", "))
	fs.StringVar(&k.SASLUser, "kafka-sasl-user", "", "Kafka SASL user `NAME`")
	fs.StringVar(&k.SASLPassword, "kafka-sasl-password", "", "Kafka SASL `PASSWORD` (visible in ps: prefer $"+saslPasswordEnv+")")
}

// kafkaConfig validates the Kafka flags and returns the sink's
// configuration, or nil without --kafka.
func kafkaConfig(fl *Flags, live bool, stderr io.Writer) (*kafka.Config, error) {
	k := &fl.Kafka
	if k.Brokers == "" {
		return nil, nil
	}
	var brokers []string
	for b := range strings.SplitSeq(k.Brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	switch {
	case len(brokers) == 0:
		return nil, errors.New("--kafka: no broker given")
	case k.Topic == "":
		return nil, errors.New("--kafka-topic must not be empty")
	case k.FlushTimeout <= 0:
		return nil, errors.New("--kafka-flush-timeout must be positive")
	case k.SASLMechanism != "" && !slices.Contains(kafka.Mechanisms, strings.ToUpper(k.SASLMechanism)):
		return nil, fmt.Errorf("--kafka-sasl-mechanism %q: want %s", k.SASLMechanism, strings.Join(kafka.Mechanisms, ", "))
	case k.SASLMechanism != "" && k.SASLUser == "":
		return nil, errors.New("--kafka-sasl-mechanism needs --kafka-sasl-user")
	case k.SASLMechanism == "" && k.SASLUser != "":
		return nil, errors.New("--kafka-sasl-user needs --kafka-sasl-mechanism")
	case (k.Cert == "") != (k.Key == ""):
		return nil, errors.New("--kafka-tls-cert and --kafka-tls-key go together")
	}
	pass := k.SASLPassword
	if pass == "" {
		pass = os.Getenv(saslPasswordEnv)
	}
	return &kafka.Config{Brokers: brokers, TopicPrefix: k.Topic, Sensor: fl.Sensor, CommunityIDSeed: fl.CommunityIDSeed, Live: live, Local: fl.LocalTime,
		TLS: k.TLS, CAFile: k.CA, CertFile: k.Cert, KeyFile: k.Key,
		SASLMechanism: strings.ToUpper(k.SASLMechanism), SASLUser: k.SASLUser, SASLPassword: pass,
		FlushTimeout: k.FlushTimeout, Stderr: stderr}, nil
}
