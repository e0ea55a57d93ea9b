import net from 'node:net';
import { memoryApp } from './test/http/app-under-test.ts';
const t = await memoryApp({ logLines: [] });
await t.app.listen({ host: '127.0.0.1', port: 0 });
const port = (t.app.server.address() as net.AddressInfo).port;
function raw(text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let out = '';
    socket.on('data', (d) => (out += d.toString()));
    socket.on('end', () => resolve(out));
    socket.on('close', () => resolve(out));
    setTimeout(() => { socket.destroy(); resolve(out + '[timeout]'); }, 1500);
  });
}
const id = 'a'.repeat(129);
console.log('--- 129', await raw(`GET /api/chats/${id} HTTP/1.1\r\nHost: x\r\nx-demo-user: a@x.com\r\nConnection: close\r\n\r\n`));
console.log('--- 110', await raw(`GET /api/chats/${'a'.repeat(110)} HTTP/1.1\r\nHost: x\r\nx-demo-user: a@x.com\r\nConnection: close\r\n\r\n`));
console.log('--- badurl', await raw(`GET /api/chats/%E0%A4%A HTTP/1.1\r\nHost: x\r\nx-demo-user: a@x.com\r\nConnection: close\r\n\r\n`));
console.log('--- 431', await raw(`GET /api/chats HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(20000)}\r\nConnection: close\r\n\r\n`));
console.log('--- parser', await raw(`GET /api/chats HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n`));
console.log('--- 413', await raw(`POST /api/chats HTTP/1.1\r\nHost: x\r\nx-demo-user: a@x.com\r\ncontent-type: application/json\r\nContent-Length: 300000\r\nConnection: close\r\n\r\n{}`));
await t.close();
