// A withdrawal driven by viem's op-stack actions, unmodified, against Ordo and its contracts
// on L1: viem builds and sends the withdrawal on L2, waits for an output that covers it
// (reading the L2OutputOracle), builds the proof from Ordo's eth_getProof and block, proves
// it on the portal, waits out the finalization period and finalizes it.
//
//   L1_RPC=... L2_RPC=... PORTAL=0x... ORACLE=0x... MULTICALL3=0x... KEY=0x... \
//     NODE_PATH=$(bash scripts/viem) node withdraw.cjs
// Prints one JSON line: {"l2Hash", "withdrawalHash", "statuses", "proveHash",
// "finalizeHash", "to", "value", "l1Fee", "l1GasUsed", "l1GasPrice", "estimatedL1Fee",
// "estimatedTotalFee"} (the fees as viem's OP receipt formatter and its estimate actions give
// them, in wei). KEY pays on both chains.
const { createPublicClient, createWalletClient, http, parseEther } = require("viem");
const { privateKeyToAccount } = require("viem/accounts");
const {
  publicActionsL1,
  publicActionsL2,
  walletActionsL1,
  walletActionsL2,
} = require("viem/op-stack");
const { chains, env } = require("./chains.cjs");

async function main() {
  const [l1Url, l2Url] = [env("L1_RPC"), env("L2_RPC")];
  const { l1, l2 } = await chains(l1Url, l2Url, {
    portal: env("PORTAL"),
    l2OutputOracle: env("ORACLE"),
    multicall3: env("MULTICALL3"),
  });
  const account = privateKeyToAccount(env("KEY"));
  const poll = { pollingInterval: 250 };
  const l1Public = createPublicClient({ chain: l1, transport: http(l1Url), ...poll }).extend(
    publicActionsL1(),
  );
  const l1Wallet = createWalletClient({ account, chain: l1, transport: http(l1Url) }).extend(
    walletActionsL1(),
  );
  const l2Public = createPublicClient({ chain: l2, transport: http(l2Url), ...poll }).extend(
    publicActionsL2(),
  );
  const l2Wallet = createWalletClient({ account, chain: l2, transport: http(l2Url) }).extend(
    walletActionsL2(),
  );

  const value = parseEther("0.5");
  const args = await l1Public.buildInitiateWithdrawal({ account, to: account.address, value });
  const l2Hash = await l2Wallet.initiateWithdrawal(args);
  const receipt = await l2Public.waitForTransactionReceipt({ hash: l2Hash });
  // What a wallet shows before sending a transfer: the L1 part through the GasPriceOracle,
  // and the total with gas (which also asks the oracle for the operator fee).
  const transfer = { account, to: account.address, value: 1n };
  const estimatedL1Fee = await l2Public.estimateL1Fee(transfer);
  const estimatedTotalFee = await l2Public.estimateTotalFee(transfer);
  const statuses = [await l1Public.getWithdrawalStatus({ receipt, targetChain: l2 })];

  const { output, withdrawal } = await l1Public.waitToProve({ receipt, targetChain: l2 });
  statuses.push(await l1Public.getWithdrawalStatus({ receipt, targetChain: l2 }));
  const proveArgs = await l2Public.buildProveWithdrawal({ account, output, withdrawal });
  const proveHash = await l1Wallet.proveWithdrawal(proveArgs);
  const proved = await l1Public.waitForTransactionReceipt({ hash: proveHash });
  if (proved.status !== "success") throw new Error(`prove reverted: ${proveHash}`);
  statuses.push(await l1Public.getWithdrawalStatus({ receipt, targetChain: l2 }));

  await l1Public.waitToFinalize({ targetChain: l2, withdrawalHash: withdrawal.withdrawalHash });
  const finalizeHash = await l1Wallet.finalizeWithdrawal({ targetChain: l2, withdrawal });
  const finalized = await l1Public.waitForTransactionReceipt({ hash: finalizeHash });
  if (finalized.status !== "success") throw new Error(`finalize reverted: ${finalizeHash}`);
  statuses.push(await l1Public.getWithdrawalStatus({ receipt, targetChain: l2 }));

  console.log(
    JSON.stringify({
      l2Hash,
      withdrawalHash: withdrawal.withdrawalHash,
      statuses,
      proveHash,
      finalizeHash,
      to: withdrawal.target,
      value: withdrawal.value.toString(),
      l1Fee: String(receipt.l1Fee),
      l1GasUsed: String(receipt.l1GasUsed),
      l1GasPrice: String(receipt.l1GasPrice),
      estimatedL1Fee: estimatedL1Fee.toString(),
      estimatedTotalFee: estimatedTotalFee.toString(),
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
