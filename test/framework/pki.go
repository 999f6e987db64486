package framework

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// CertAuthority is a CA whose certificate and key are kept on disk, so tests
// and users can mint more certificates later (for example for
// system:node:<name>).
type CertAuthority struct {
	Cert     *x509.Certificate
	Key      crypto.Signer
	CertFile string
	KeyFile  string
}

// CertKeyPair names the files of a certificate and its key.
type CertKeyPair struct {
	CertFile string
	KeyFile  string
}

const certValidity = 10 * 365 * 24 * time.Hour

// NewCertAuthority creates a self-signed CA and writes <dir>/<name>.crt and .key.
func NewCertAuthority(dir, name, commonName string) (*CertAuthority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating %s key: %w", name, err)
	}
	cert, err := certutil.NewSelfSignedCACert(certutil.Config{CommonName: commonName}, key)
	if err != nil {
		return nil, fmt.Errorf("self-signing %s: %w", name, err)
	}
	ca := &CertAuthority{Cert: cert, Key: key,
		CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key")}
	if err := writeCertKey(ca.CertFile, ca.KeyFile, cert, key); err != nil {
		return nil, err
	}
	return ca, nil
}

// LoadCertAuthority reads a CA written by NewCertAuthority.
func LoadCertAuthority(certFile, keyFile string) (*CertAuthority, error) {
	certs, err := certutil.CertsFromFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA certificate: %w", err)
	}
	key, err := keyutil.PrivateKeyFromFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("CA key %s cannot sign", keyFile)
	}
	return &CertAuthority{Cert: certs[0], Key: signer, CertFile: certFile, KeyFile: keyFile}, nil
}

// CertSpec describes a certificate to issue.
type CertSpec struct {
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	Server       bool
	Client       bool
}

// Issue signs a certificate for spec and writes <dir>/<name>.crt and .key.
func (ca *CertAuthority) Issue(dir, name string, spec CertSpec) (CertKeyPair, error) {
	pair := CertKeyPair{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key")}
	cert, key, err := ca.sign(spec)
	if err != nil {
		return pair, fmt.Errorf("issuing %s: %w", name, err)
	}
	return pair, writeCertKey(pair.CertFile, pair.KeyFile, cert, key)
}

// IssuePEM signs a certificate for spec and returns it and its key as PEM.
func (ca *CertAuthority) IssuePEM(spec CertSpec) (certPEM, keyPEM []byte, err error) {
	cert, key, err := ca.sign(spec)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM, err = certutil.EncodeCertificates(cert)
	return certPEM, keyPEM, err
}

func (ca *CertAuthority) sign(spec CertSpec) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.CommonName, Organization: spec.Organization},
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	if spec.Server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if spec.Client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func writeCertKey(certFile, keyFile string, cert *x509.Certificate, key crypto.Signer) error {
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return fmt.Errorf("encoding key for %s: %w", certFile, err)
	}
	certPEM, err := certutil.EncodeCertificates(cert)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", certFile, err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", certFile, err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", keyFile, err)
	}
	return nil
}
