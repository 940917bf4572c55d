import re,statistics,collections,sys
d=collections.defaultdict(list); cur=None
for l in open(sys.argv[1]):
    m=re.match(r'== (\S+) round',l)
    if m: cur=m.group(1); continue
    m=re.match(r'BenchmarkConcurrentGet/workload=(\S+)/level=(\S+)-\d.*?([\d.]+) ratio',l)
    if m: d[('Get',m.group(1),m.group(2),cur)].append(float(m.group(3)))
    m=re.match(r'BenchmarkCursorWalk-\d\s+\d+\s+([\d.]+) ns/op',l)
    if m: d[('CursorWalk ns','','',cur)].append(float(m.group(1)))
for k in sorted(d):
    v=d[k]; print('%-14s %-10s %-20s %-5s median %.3f range %.3f-%.3f n=%d'%(k[0],k[1],k[2],k[3],statistics.median(v),min(v),max(v),len(v)))
