// A BitTorrent tracker (the bittorrent-tracker package) on [::1] for the
// IPv6 tests: HTTP on [::1]:PORT and UDP on [::1]:PORT (and 127.0.0.1:PORT).
// Prints {"listening": PORT} once every socket is bound, then serves until
// it is sent SIGTERM. Usage: node server.mjs PORT
import Server from 'bittorrent-tracker/server'

const port = Number(process.argv[2])
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs PORT')
  process.exit(2)
}
const server = new Server({ http: true, udp: true, ws: false, stats: false, trustProxy: false })
server.on('error', (err) => {
  console.log(JSON.stringify({ error: String(err) }))
  process.exit(1)
})
server.on('listening', () => {
  console.log(JSON.stringify({ listening: port }))
})
server.listen(port, { http: '::1', udp: '127.0.0.1', udp6: '::1' })
process.on('SIGTERM', () => server.close(() => process.exit(0)))
