import sys,re,statistics,collections
d=collections.defaultdict(list)
cur=None
for l in open(sys.argv[1]):
    m=re.match(r'== (\S+) round',l)
    if m: cur=m.group(1); continue
    m=re.match(r'BenchmarkOneWriter/workload=(\S+)/mode=(\S+)-\d.*?([\d.]+) ratio',l)
    if m: d[(m.group(2),m.group(1),cur)].append(float(m.group(3)))
for k in sorted(d):
    v=d[k]; print('%-8s %-10s %-6s median %.3f range %.3f-%.3f n=%d'%(k[0],k[1],k[2],statistics.median(v),min(v),max(v),len(v)))
