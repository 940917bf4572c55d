package pool

import (
	"encoding/binary"
	"testing"
)

// FuzzModel drives the model of model_test.go from fuzz input on every
// level: byte 0 picks the level and the alignment, then each 3-byte record
// is one operation (alloc of a size drawn from the record, or free of a live
// block picked by it). Every live block's pattern is checked on free, and
// everything at the end.
func FuzzModel(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0x80, 0, 0, 0x81, 0, 0})
	f.Add([]byte{2, 10, 0, 0, 10, 0, 0, 0x90, 0, 0, 0x90, 0, 0})
	f.Add([]byte{3, 0x7f, 0xff, 0xff, 0x7f, 0xff, 0xf0, 0x80, 1, 0})
	f.Add([]byte{4, 1, 2, 3, 0x81, 1, 1, 5, 5, 5})
	f.Add([]byte{13, 0x40, 0, 0, 0x40, 0, 0, 0x40, 0, 0, 0xc0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		if len(data) > 3*2000 {
			data = data[:3*2000]
		}
		all := append(levels[:len(levels):len(levels)], struct {
			name string
			make func(Config) (Pool, error)
		}{"cache-remote", makeRemoteCache})
		l := all[int(data[0])%len(all)]
		cfg := testConfig()
		if data[0]/byte(len(all))%2 == 1 {
			cfg.Alignment = 8
		}
		p, err := l.make(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m := newModel(t, p, cfg)
		for rec := data[1:]; len(rec) >= 3; rec = rec[3:] {
			v := int(binary.BigEndian.Uint16(rec[1:3]))
			switch {
			case rec[0]&0x80 == 0 || len(m.live) == 0:
				// Sizes: mostly small, the top of the range huge, class
				// edges included.
				var size int
				switch rec[0] & 0x60 {
				case 0x00:
					size = 1 + v%256
				case 0x20:
					size = 1 + v%m.cfg.MaxFastBlock
				case 0x40:
					size = m.cfg.MaxFastBlock + v%3 - 1
				default:
					size = m.cfg.MaxFastBlock + 1 + v%(3*m.cfg.ChunkSize)
				}
				m.alloc(size)
			default:
				m.free(v % len(m.live))
			}
		}
		m.verify()
		m.freeAll()
	})
}

// makeRemoteCache returns a cache whose blocks are allocated by it but
// freed, through the model, by a second cache of the same pool: every free
// is a remote one. (The model allocates and frees through one Pool; this
// wrapper sends Free to the other cache and flushes it.)
func makeRemoteCache(c Config) (Pool, error) {
	p, err := NewThreadLocal(c)
	if err != nil {
		return nil, err
	}
	return &remoteCache{Cache: p.NewCache(), other: p.NewCache()}, nil
}

type remoteCache struct {
	*Cache
	other *Cache
	n     int
}

func (r *remoteCache) Free(off Offset, size int) error {
	err := r.other.Free(off, size)
	if r.n++; r.n%7 == 0 {
		r.other.Flush()
	}
	return err
}

func (r *remoteCache) Stats() Stats {
	r.other.Flush()
	return r.Cache.Stats()
}
