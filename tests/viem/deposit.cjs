// A deposit made with viem's op-stack actions, unmodified, against Ordo: viem builds the
// deposit (estimating its L2 gas on Ordo), sends it to the portal on L1, computes the L2
// transaction hash from the L1 receipt alone, and waits for that hash on Ordo.
//
//   L1_RPC=... L2_RPC=... PORTAL=0x... KEY=0x... NODE_PATH=$(bash scripts/viem) node deposit.cjs
// Prints one JSON line: {"l1Hash", "l2Hash", "status", "from", "mint"}.
const { createPublicClient, createWalletClient, http, parseEther } = require("viem");
const { privateKeyToAccount } = require("viem/accounts");
const { getL2TransactionHashes, publicActionsL2, walletActionsL1 } = require("viem/op-stack");
const { chains, env } = require("./chains.cjs");

async function main() {
  const [l1Url, l2Url] = [env("L1_RPC"), env("L2_RPC")];
  const { l1, l2 } = await chains(l1Url, l2Url, { portal: env("PORTAL") });
  const account = privateKeyToAccount(env("KEY"));
  const l1Public = createPublicClient({ chain: l1, transport: http(l1Url) });
  const l1Wallet = createWalletClient({ account, chain: l1, transport: http(l1Url) }).extend(
    walletActionsL1(),
  );
  const l2Public = createPublicClient({ chain: l2, transport: http(l2Url) }).extend(
    publicActionsL2(),
  );

  const request = await l2Public.buildDepositTransaction({
    account,
    mint: parseEther("1"),
    to: account.address,
  });
  const l1Hash = await l1Wallet.depositTransaction(request);
  const receipt = await l1Public.waitForTransactionReceipt({ hash: l1Hash });
  const [l2Hash] = getL2TransactionHashes(receipt);
  const l2Receipt = await l2Public.waitForTransactionReceipt({ hash: l2Hash, timeout: 60_000 });
  const l2Tx = await l2Public.getTransaction({ hash: l2Hash });
  console.log(
    JSON.stringify({
      l1Hash,
      l2Hash,
      status: l2Receipt.status,
      from: l2Receipt.from,
      mint: l2Tx.mint === undefined ? null : l2Tx.mint.toString(),
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
