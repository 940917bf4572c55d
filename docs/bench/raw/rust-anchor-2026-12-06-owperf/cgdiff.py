import sys,re,subprocess,collections
def load(f):
    out=subprocess.run(['cg_annotate','--auto=no',f],capture_output=True,text=True).stdout
    d=collections.Counter()
    on=False
    for l in out.splitlines():
        if 'file:function' in l: on=True; continue
        if not on: continue
        m=re.match(r'\s*([\d,]+)\s+\(.*?\)\s+(\S+):(\S+)',l)
        if m:
            fn=m.group(3).replace('github.com/zipora-go/zipora/structures/','').replace('[go.shape.uint64]','')
            d[fn]+=int(m.group(1).replace(',',''))
    return d
a=load(sys.argv[1]); b=load(sys.argv[2]); n=float(sys.argv[3])
keys=set(a)|set(b)
rows=sorted(keys,key=lambda k:-(abs(b[k]-a[k])))
for k in rows[:int(sys.argv[4]) if len(sys.argv)>4 else 40]:
    print('%8.1f %8.1f %+8.1f  %s'%(a[k]/n,b[k]/n,(b[k]-a[k])/n,k))
