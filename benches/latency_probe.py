import http.client, sys, time, statistics
port, key, paths, n = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(','), int(sys.argv[4])
c = http.client.HTTPConnection('127.0.0.1', port)
h = {'Authorization': 'Bearer ' + key}
for p in paths:
    for _ in range(20):
        c.request('GET', p, headers=h); r = c.getresponse(); r.read()
    ts = []
    for _ in range(n):
        t = time.perf_counter(); c.request('GET', p, headers=h); r = c.getresponse(); r.read(); ts.append(time.perf_counter() - t)
        assert r.status == 200, (p, r.status)
    ts.sort()
    print(f"{p} p50_ms={statistics.median(ts)*1000:.3f} p99_ms={ts[int(len(ts)*0.99)-1]*1000:.3f}")
