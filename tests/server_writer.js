// server_writer.js URL OUTFILE WRITERS -- put items as fast as possible
// from WRITERS concurrent loops until the server stops answering; append
// each acknowledged (200) key to OUTFILE at once, synchronously, so that a
// kill -9 of the server leaves in OUTFILE exactly the writes it confirmed.
'use strict';
const fs = require('fs');
const [url, out, writers] = process.argv.slice(2);
async function writer(w) {
    for (let i = 0; ; i++) {
        let res;
        try {
            res = await fetch(url + '/v1/items/put', {
                method: 'POST',
                body: JSON.stringify({ ns: ['load', 'w' + w], key: 'k' + i,
                                       value: { i, text: 'memory number ' + i } }),
            });
            await res.text();
        } catch (e) {
            return;
        }
        if (res.status !== 200) return;
        fs.appendFileSync(out, `load/w${w} k${i}\n`);
    }
}
Promise.all(Array.from({ length: Number(writers) }, (_, w) => writer(w)));
