package wardentest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Certificate is an X.509 certificate with its P-256 key, for tests of
// mutual TLS and certificate-bound tokens (RFC 8705): a CA from NewCA, and
// the client and server certificates it issues.
type Certificate struct {
	// Cert is the certificate; Token.Certificate binds a token to it.
	Cert *x509.Certificate
	// Key is its private key.
	Key *ecdsa.PrivateKey
}

// NewCA returns a self-signed CA certificate, valid for an hour either side
// of now.
func NewCA(name string) *Certificate { return issue(name, nil, true, nil) }

// Issue returns a certificate for name signed by c: a client certificate,
// or, when hosts (IP addresses or DNS names) are given, a server
// certificate for them. Issued by a nil *Certificate, it is self-signed.
func (c *Certificate) Issue(name string, hosts ...string) *Certificate {
	return issue(name, c, false, hosts)
}

func issue(name string, parent *Certificate, isCA bool, hosts []string) *Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("wardentest: generating a certificate key: %v", err))
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	switch {
	case isCA:
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage, tmpl.ExtKeyUsage = true, true, x509.KeyUsageCertSign, nil
	case len(hosts) > 0:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		panic(fmt.Sprintf("wardentest: issuing certificate %q: %v", name, err))
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(fmt.Sprintf("wardentest: parsing certificate %q: %v", name, err))
	}
	return &Certificate{Cert: cert, Key: key}
}

// TLS returns the certificate for a tls.Config (Certificates).
func (c *Certificate) TLS() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.Cert.Raw}, PrivateKey: c.Key, Leaf: c.Cert}
}

// PEM returns the certificate and its PKCS #8 key as PEM, for servers that
// read files.
func (c *Certificate) PEM() (cert, key []byte) {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		panic(fmt.Sprintf("wardentest: encoding a key: %v", err))
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
