// The two chains as viem's op-stack actions want them: L1 (with Multicall3 when given, which
// viem's output-oracle reads batch through) and Ordo defined as viem defines every OP Stack
// chain (its formatters read deposit fields), naming the rollup's contracts on L1.
const { createPublicClient, defineChain, http } = require("viem");
const { chainConfig } = require("viem/op-stack");

// Reads the chain ids from both nodes; `contracts` holds `portal` and optionally
// `l2OutputOracle` and `multicall3` addresses.
async function chains(l1Url, l2Url, contracts) {
  const l1Id = await createPublicClient({ transport: http(l1Url) }).getChainId();
  const l2Id = await createPublicClient({ transport: http(l2Url) }).getChainId();
  const currency = { name: "Ether", symbol: "ETH", decimals: 18 };
  const l1 = defineChain({
    id: l1Id,
    name: "l1",
    nativeCurrency: currency,
    rpcUrls: { default: { http: [l1Url] } },
    ...(contracts.multicall3 ? { contracts: { multicall3: { address: contracts.multicall3 } } } : {}),
  });
  const onL1 = { portal: { [l1Id]: { address: contracts.portal } } };
  if (contracts.l2OutputOracle) {
    onL1.l2OutputOracle = { [l1Id]: { address: contracts.l2OutputOracle } };
  }
  const l2 = defineChain({
    ...chainConfig,
    id: l2Id,
    name: "ordo",
    nativeCurrency: currency,
    rpcUrls: { default: { http: [l2Url] } },
    sourceId: l1Id,
    contracts: { ...chainConfig.contracts, ...onL1 },
  });
  return { l1, l2 };
}

// The environment variable `name`, which must be set.
function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

module.exports = { chains, env };
