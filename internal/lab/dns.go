package lab

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
)

// dnsServer is the lab network's name server (UDP on the host address,
// port 53): it knows the lab's names and answers NXDOMAIN for everything
// else, at once.
//
// Without it a guest's resolver would have to time out: nobody listens on
// port 53, and the ICMP "port unreachable" that would fail the lookup fast
// is rate-limited by the kernel (net.ipv4.icmp_ratelimit), so every few
// lookups one waits 5 s. yum does several lookups; a build would crawl. A
// real MT has a DNS server in its static network settings, too.
type dnsServer struct {
	conn  net.PacketConn
	log   *slog.Logger
	names map[string]net.IP // lower-case FQDN without the final dot
	wg    sync.WaitGroup
}

func startDNS(addr string, names map[string]net.IP, log *slog.Logger) (*dnsServer, error) {
	c, err := net.ListenPacket("udp4", addr)
	if err != nil {
		return nil, err
	}
	d := &dnsServer{conn: c, log: log, names: names}
	d.wg.Add(1)
	go d.serve()
	return d, nil
}

func (d *dnsServer) close() {
	d.conn.Close()
	d.wg.Wait()
}

func (d *dnsServer) serve() {
	defer d.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, from, err := d.conn.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if resp := d.answer(buf[:n]); resp != nil {
			d.conn.WriteTo(resp, from)
		}
	}
}

// answer builds the reply to one query: an A record for a lab name,
// NOERROR without answers for other types of a lab name, NXDOMAIN for the
// rest, FORMERR for what it cannot parse.
func (d *dnsServer) answer(q []byte) []byte {
	if len(q) < 12 || q[2]&0x80 != 0 { // too short, or a response
		return nil
	}
	name, end, ok := parseQName(q, 12)
	if !ok || binary.BigEndian.Uint16(q[4:6]) != 1 || end+4 > len(q) {
		return header(q, 1, 0, 0)
	}
	qtype := binary.BigEndian.Uint16(q[end : end+2])
	question := q[12 : end+4]
	ip, known := d.names[strings.ToLower(strings.TrimSuffix(name, "."))]
	d.log.Debug("dns query", "name", name, "type", qtype, "known", known)
	if !known {
		return append(header(q, 3, 1, 0), question...)
	}
	if qtype != 1 { // only A records; AAAA and the rest: no data
		return append(header(q, 0, 1, 0), question...)
	}
	resp := append(header(q, 0, 1, 1), question...)
	resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4) // name ptr, A, IN, TTL 60, len 4
	return append(resp, ip.To4()...)
}

// header copies the query's ID and RD bit into a response header.
func header(q []byte, rcode byte, qd, an uint16) []byte {
	h := make([]byte, 12)
	copy(h[0:2], q[0:2])
	h[2] = 0x80 | 0x04 | q[2]&0x01 // QR, AA, RD copied
	h[3] = 0x80 | rcode            // RA
	binary.BigEndian.PutUint16(h[4:6], qd)
	binary.BigEndian.PutUint16(h[6:8], an)
	return h
}

// parseQName reads an uncompressed name starting at off.
func parseQName(b []byte, off int) (string, int, bool) {
	var labels []string
	for off < len(b) {
		l := int(b[off])
		off++
		if l == 0 {
			return strings.Join(labels, "."), off, true
		}
		if l > 63 || off+l > len(b) {
			return "", 0, false
		}
		labels = append(labels, string(b[off:off+l]))
		off += l
	}
	return "", 0, false
}
