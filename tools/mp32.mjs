// Run Python steps in MicroPython's WebAssembly port: a 32-bit MicroPython,
// so objects take the room they take on an ESP32. tools/heap32.py drives it.
//
//   node tools/mp32.mjs DIR STEP...
//
// DIR's tree is copied to /fw in the port's in-memory filesystem. Each STEP
// runs as its own top-level call: between calls no Python frame is live, so
// gc.collect() in a step frees everything the previous steps dropped.
import fs from "fs";
import path from "path";
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript/micropython.mjs";

const [dir, ...steps] = process.argv.slice(2);
const mp = await loadMicroPython({
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
});
function copy(src, dst) {
  mp.FS.mkdir(dst);
  for (const name of fs.readdirSync(src)) {
    const from = path.join(src, name);
    if (fs.statSync(from).isDirectory()) copy(from, dst + "/" + name);
    else mp.FS.writeFile(dst + "/" + name, fs.readFileSync(from));
  }
}
copy(dir, "/fw");
try {
  for (const step of steps) mp.runPython(step);
} catch (e) {
  console.error(String(e));
  process.exit(1);
}
