// Compiles the contracts Ordo deploys on L1 (and the ones its tests deploy) with the pinned
// solc-js and writes, per contract, out/<Name>.bin (creation bytecode, hex, no 0x) and
// out/<Name>.abi.json (and out/<Name>.runtime.bin for the L2 predeploys). Run through scripts/contracts, which installs the pinned solc.
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const SOLC = "0.8.26";
const dir = __dirname;
const sources = [
  "OrdoPortal.sol",
  "L2OutputOracle.sol",
  "lib/Types.sol",
  "lib/RLPReader.sol",
  "lib/MerkleTrie.sol",
  "lib/FastLZ.sol",
  "l2/L2ToL1MessagePasser.sol",
  "l2/L1Block.sol",
  "l2/GasPriceOracle.sol",
  "l2/FeeVault.sol",
  "test/DepositCaller.sol",
  "test/Multicall3.sol",
  "test/WithdrawalTarget.sol",
  "test/TrieProbe.sol",
  "test/FastLZProbe.sol",
  "test/TraceProbe.sol",
];
// Contracts predeployed in the L2 genesis: their runtime code goes in out/<Name>.runtime.bin.
const predeploys = ["L2ToL1MessagePasser", "L1Block", "GasPriceOracle", "BaseFeeVault", "L1FeeVault"];

if (!solc.version().startsWith(SOLC)) {
  console.error(`expected solc ${SOLC}, got ${solc.version()}`);
  process.exit(1);
}
const input = {
  language: "Solidity",
  sources: Object.fromEntries(
    sources.map((s) => [s, { content: fs.readFileSync(path.join(dir, s), "utf8") }]),
  ),
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of output.errors || []) console.error(e.formattedMessage);
if ((output.errors || []).some((e) => e.severity === "error")) process.exit(1);
fs.mkdirSync(path.join(dir, "out"), { recursive: true });
for (const source of sources) {
  for (const [name, contract] of Object.entries(output.contracts[source])) {
    if (contract.evm.bytecode.object.length === 0) continue; // interfaces
    if (contract.abi.length === 0) continue; // libraries of internal functions: nothing to deploy
    fs.writeFileSync(path.join(dir, "out", `${name}.bin`), contract.evm.bytecode.object + "\n");
    fs.writeFileSync(
      path.join(dir, "out", `${name}.abi.json`),
      JSON.stringify(contract.abi, null, 2) + "\n",
    );
    if (predeploys.includes(name)) {
      const runtime = contract.evm.deployedBytecode.object;
      fs.writeFileSync(path.join(dir, "out", `${name}.runtime.bin`), runtime + "\n");
    }
    console.log(`${name}: ${JSON.stringify(contract.evm.methodIdentifiers)}`);
  }
}
