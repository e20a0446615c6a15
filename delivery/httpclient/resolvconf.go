package httpclient

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// systemNameservers returns the nameservers listed in a resolv.conf file,
// as "host:53".
func systemNameservers(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("httpclient: ResolverConfig.Servers is empty and %s cannot be read: %w", path, err)
	}
	defer f.Close()
	var servers []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		addr, err := netip.ParseAddr(fields[1])
		if err != nil {
			continue
		}
		servers = append(servers, net.JoinHostPort(addr.WithZone("").String(), "53"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("httpclient: reading %s: %w", path, err)
	}
	if len(servers) == 0 {
		return nil, errors.New("httpclient: ResolverConfig.Servers is empty and " + path + " names no nameserver")
	}
	return servers, nil
}
