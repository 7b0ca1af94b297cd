// Compiles Amm.sol with solc-js 0.8.26 and writes Amm.bin (creation bytecode, hex, no 0x)
// and Amm.abi.json next to it.
//
//   ./scripts/contracts      (from the repository root: installs the pinned solc, runs this)
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const dir = __dirname;
const input = {
  language: "Solidity",
  sources: { "Amm.sol": { content: fs.readFileSync(path.join(dir, "Amm.sol"), "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: {
      "*": { "*": ["abi", "evm.bytecode.object", "evm.methodIdentifiers", "storageLayout"] },
    },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length > 0) process.exit(1);
if (!solc.version().startsWith("0.8.26")) {
  console.error(`expected solc 0.8.26, got ${solc.version()}`);
  process.exit(1);
}
const amm = output.contracts["Amm.sol"].Amm;
fs.writeFileSync(path.join(dir, "Amm.bin"), amm.evm.bytecode.object + "\n");
fs.writeFileSync(path.join(dir, "Amm.abi.json"), JSON.stringify(amm.abi, null, 2) + "\n");
console.log(`solc ${solc.version()}`);
console.log(JSON.stringify(amm.evm.methodIdentifiers, null, 2));
for (const s of amm.storageLayout.storage) console.log(`slot ${s.slot} +${s.offset}: ${s.label}`);
