// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.26;

/// @title Amm: two constant-product pools of one pair, for the backrun teaching searcher.
/// @notice Token X and token Y are internal ledgers of this contract (`balanceX`,
/// `balanceY`), not ERC-20s. Pool 0 and pool 1 trade the same pair with a 0.3% fee, so a
/// large swap on one pool leaves a price gap to the other that `arb` closes.
/// @dev Storage layout (for readers that use `eth_getStorageAt` instead of `getReserves`):
///   slot 0: pools[0].x   slot 1: pools[0].y   slot 2: pools[1].x   slot 3: pools[1].y
///   slot 4: mapping balanceX (entry at keccak256(abi.encode(addr, 4)))
///   slot 5: mapping balanceY (entry at keccak256(abi.encode(addr, 5)))
contract Amm {
    struct Pool {
        uint256 x;
        uint256 y;
    }

    /// Reserves deposited in each pool by the constructor.
    uint256 public constant SEED = 1_000_000e18;
    /// X and Y minted to the deployer by the constructor.
    uint256 public constant DEPLOYER_MINT = 1_000_000_000e18;

    Pool[2] internal pools;
    mapping(address => uint256) public balanceX;
    mapping(address => uint256) public balanceY;

    event Swap(
        address indexed trader, uint256 indexed pool, bool xForY, uint256 amountIn, uint256 amountOut
    );
    event Arb(
        address indexed searcher,
        uint256 buyPool,
        uint256 sellPool,
        bool startWithX,
        uint256 amountIn,
        uint256 profit,
        uint256 bid
    );
    event Mint(address indexed to, uint256 x, uint256 y);

    /// Seeds both pools with SEED X and SEED Y, and mints DEPLOYER_MINT of each to the deployer.
    constructor() {
        pools[0] = Pool(SEED, SEED);
        pools[1] = Pool(SEED, SEED);
        balanceX[msg.sender] = DEPLOYER_MINT;
        balanceY[msg.sender] = DEPLOYER_MINT;
        emit Mint(msg.sender, DEPLOYER_MINT, DEPLOYER_MINT);
    }

    /// Open faucet: X and Y are test tokens.
    function mint(address to, uint256 x, uint256 y) external {
        balanceX[to] += x;
        balanceY[to] += y;
        emit Mint(to, x, y);
    }

    function balances(address who) external view returns (uint256 x, uint256 y) {
        return (balanceX[who], balanceY[who]);
    }

    function getReserves(uint256 pool) external view returns (uint256 x, uint256 y) {
        require(pool < 2, "Amm: no such pool");
        Pool storage p = pools[pool];
        return (p.x, p.y);
    }

    /// Constant product with a 0.3% fee on the input (Uniswap v2's formula).
    function getAmountOut(uint256 amountIn, uint256 reserveIn, uint256 reserveOut)
        public
        pure
        returns (uint256)
    {
        uint256 inWithFee = amountIn * 997;
        return (inWithFee * reserveOut) / (reserveIn * 1000 + inWithFee);
    }

    /// Moves `amountIn` into `pool` and the output out of it; returns the output. Ledgers are
    /// the caller's business.
    function _poolSwap(uint256 pool, bool xForY, uint256 amountIn) internal returns (uint256 out) {
        require(pool < 2, "Amm: no such pool");
        require(amountIn > 0, "Amm: zero input");
        Pool storage p = pools[pool];
        if (xForY) {
            out = getAmountOut(amountIn, p.x, p.y);
            p.x += amountIn;
            p.y -= out;
        } else {
            out = getAmountOut(amountIn, p.y, p.x);
            p.y += amountIn;
            p.x -= out;
        }
        emit Swap(msg.sender, pool, xForY, amountIn, out);
    }

    /// Swaps `amountIn` of the caller's X (xForY) or Y for the other token on `pool`.
    function swap(uint256 pool, bool xForY, uint256 amountIn, uint256 minOut)
        external
        returns (uint256 out)
    {
        if (xForY) {
            require(balanceX[msg.sender] >= amountIn, "Amm: insufficient X");
            balanceX[msg.sender] -= amountIn;
        } else {
            require(balanceY[msg.sender] >= amountIn, "Amm: insufficient Y");
            balanceY[msg.sender] -= amountIn;
        }
        out = _poolSwap(pool, xForY, amountIn);
        require(out >= minOut, "Amm: slippage");
        if (xForY) {
            balanceY[msg.sender] += out;
        } else {
            balanceX[msg.sender] += out;
        }
    }

    /// Round trip: `amountIn` of X (startWithX) or Y into `buyPool`, its output into
    /// `sellPool` back to the starting token. A flash swap: the caller needs no balance, only
    /// the profit (back - amountIn) is credited, and it must be at least `minProfit` or the
    /// whole call reverts. `msg.value` is forwarded to `block.coinbase` (the searcher's bid).
    function arb(uint256 buyPool, uint256 sellPool, bool startWithX, uint256 amountIn, uint256 minProfit)
        external
        payable
        returns (uint256 profit)
    {
        require(buyPool != sellPool, "Amm: same pool");
        uint256 mid = _poolSwap(buyPool, startWithX, amountIn);
        uint256 back = _poolSwap(sellPool, !startWithX, mid);
        require(back >= amountIn + minProfit, "Amm: unprofitable");
        profit = back - amountIn;
        if (startWithX) {
            balanceX[msg.sender] += profit;
        } else {
            balanceY[msg.sender] += profit;
        }
        if (msg.value > 0) {
            (bool ok,) = block.coinbase.call{value: msg.value}("");
            require(ok, "Amm: bid transfer failed");
        }
        emit Arb(msg.sender, buyPool, sellPool, startWithX, amountIn, profit, msg.value);
    }
}
