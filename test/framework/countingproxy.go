package framework

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// CountingProxy stands between one node's agent and kube-apiserver and
// counts the response body bytes the agent reads, by class of request. It
// serves TLS with a certificate for 127.0.0.1 from the cluster CA (which
// the agent trusts) and forwards every request with a client certificate of
// its own for the same node, so kube-apiserver authorizes the agent's
// requests as the agent's.
type CountingProxy struct {
	// URL is where the agent points its server address.
	URL string

	classify func(*http.Request) string
	srv      *http.Server
	mu       sync.Mutex
	bytes    map[string]int64
}

// StartCountingProxy runs a CountingProxy on a free loopback port for user
// (in groups); classify names the class a request's bytes count in.
func (cp *ControlPlane) StartCountingProxy(user string, groups []string, classify func(*http.Request) string) (*CountingProxy, error) {
	certPEM, keyPEM, err := cp.CA.IssuePEM(CertSpec{CommonName: "leaderhub-counting-proxy", Server: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		return nil, err
	}
	serving, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	clientCert, clientKey, err := cp.CA.IssuePEM(CertSpec{CommonName: user, Organization: groups, Client: true})
	if err != nil {
		return nil, err
	}
	upstream, err := url.Parse(cp.ServerURL)
	if err != nil {
		return nil, err
	}
	transport, err := rest.TransportFor(&rest.Config{Host: cp.ServerURL, TLSClientConfig: rest.TLSClientConfig{
		CAFile: cp.CA.CertFile, CertData: clientCert, KeyData: clientKey}})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &CountingProxy{URL: "https://" + l.Addr().String(), classify: classify, bytes: map[string]int64{}}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(upstream) },
		Transport:     transport,
		FlushInterval: -1, // watches stream
		ModifyResponse: func(resp *http.Response) error {
			resp.Body = &countedBody{ReadCloser: resp.Body, proxy: p, class: classify(resp.Request)}
			return nil
		},
	}
	p.srv = &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{serving}, MinVersion: tls.VersionTLS12}}
	// It serves until Close; an agent sees any failure as a failed request.
	go func() { _ = p.srv.ServeTLS(l, "", "") }()
	return p, nil
}

// Bytes is what responses of a class have carried so far.
func (p *CountingProxy) Bytes(class string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bytes[class]
}

// Close stops the proxy and ends the requests it forwards.
func (p *CountingProxy) Close() error {
	return p.srv.Close()
}

type countedBody struct {
	io.ReadCloser
	proxy *CountingProxy
	class string
}

func (b *countedBody) Read(buf []byte) (int, error) {
	n, err := b.ReadCloser.Read(buf)
	b.proxy.mu.Lock()
	b.proxy.bytes[b.class] += int64(n)
	b.proxy.mu.Unlock()
	return n, err
}
