package warden

import "strings"

// normalizeHTU reduces an http(s) URI to the form RFC 9449 §4.3 check 9
// compares: without query and fragment, normalised by RFC 3986 §6.2.2
// (scheme and host in lower case, percent-encodings in upper case, encoded
// unreserved characters decoded, dot segments removed) and §6.2.3 (the
// scheme's default port and an empty port dropped, an empty path made "/").
// It refuses (false) what is not an absolute http or https URI with a host,
// and userinfo, which no client has reason to put in htu.
func normalizeHTU(s string) (string, bool) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", false
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host, path := rest[:end], rest[end:]
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if host == "" || strings.IndexByte(host, '@') >= 0 || strings.IndexByte(host, '%') >= 0 {
		return "", false
	}
	host = strings.ToLower(host)
	// host [ ":" port ]; a colon elsewhere belongs only in an IP literal.
	name, port, hasPort := host, "", false
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 || (end+1 < len(host) && host[end+1] != ':') {
			return "", false
		}
		name, port, hasPort = host[:end+1], strings.TrimPrefix(host[end+1:], ":"), end+1 < len(host)
	} else if i := strings.IndexByte(host, ':'); i >= 0 {
		name, port, hasPort = host[:i], host[i+1:], true
	}
	if name == "" || strings.IndexByte(name[min(1, len(name)):], '[') >= 0 || (name[0] != '[' && strings.IndexByte(name, ']') >= 0) {
		return "", false
	}
	for j := 0; j < len(port); j++ {
		if port[j] < '0' || port[j] > '9' {
			return "", false
		}
	}
	host = name
	if hasPort && port != "" && !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") {
		host = name + ":" + port
	}
	path, ok = normalizePath(path)
	if !ok {
		return "", false
	}
	return scheme + "://" + host + path, true
}

// normalizePath normalises percent-encodings and removes dot segments. A
// path that needs neither comes back as it is, without allocating.
func normalizePath(p string) (string, bool) {
	if p == "" {
		return "/", true
	}
	clean := true
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '%':
			clean = false
		case c == '.' && (i == 0 || p[i-1] == '/'):
			clean = false
		case c <= ' ' || c >= 0x7f:
			return "", false // not a URI character at all
		}
	}
	if clean {
		return p, true
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || unhex(p[i+1]) < 0 || unhex(p[i+2]) < 0 {
			return "", false
		}
		d := byte(unhex(p[i+1])<<4 | unhex(p[i+2]))
		if isUnreserved(d) {
			b.WriteByte(d)
		} else {
			const hexUpper = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hexUpper[d>>4])
			b.WriteByte(hexUpper[d&15])
		}
		i += 2
	}
	return removeDotSegments(b.String()), true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// isUnreserved reports RFC 3986 §2.3 unreserved characters.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// removeDotSegments is RFC 3986 §5.2.4 for an absolute path.
func removeDotSegments(p string) string {
	var out []string
	segs := strings.Split(p, "/")[1:]
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}
