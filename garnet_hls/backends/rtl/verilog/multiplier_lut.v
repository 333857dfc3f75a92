`timescale 1ns / 1ps

// A variable x variable product built in fabric (garnet-hls, Multipliers: lut). The same ports, parameters
// and result as da4ml's `multiplier` (the low BW_OUT bits of the exact product), written as an array: one
// row per bit of the narrower operand, each row a narrow adder (a carry chain) that adds that bit's partial
// product to the running sum and passes its lowest bit out (the sign bit's row subtracts). Yosys maps each row
// to LUTs on a carry chain, about one LUT per partial-product bit (a sum written as one expression became a
// carry-save tree in Yosys 0.23, at 2.3x the LUTs); use_dsp = "no" keeps Vivado off the DSPs.
(* use_dsp = "no" *)
module multiplier_lut #(
    parameter BW_INPUT0 = 32,
    parameter BW_INPUT1 = 32,
    parameter SIGNED0 = 0,
    parameter SIGNED1 = 0,
    parameter BW_OUT = 32
) (
    input [BW_INPUT0-1:0] in0,
    input [BW_INPUT1-1:0] in1,
    output [BW_OUT-1:0] out
);

  localparam SWAP = BW_INPUT1 > BW_INPUT0;
  localparam BW_A = SWAP ? BW_INPUT1 : BW_INPUT0;
  localparam BW_B = SWAP ? BW_INPUT0 : BW_INPUT1;
  localparam SIGNED_A = SWAP ? SIGNED1 : SIGNED0;
  localparam SIGNED_B = SWAP ? SIGNED0 : SIGNED1;
  localparam W = BW_INPUT0 + BW_INPUT1;
  // the running sum above the bits already out: |h| <= 2^BW_A, so BW_A + 2 signed bits hold h + pp
  localparam WH = BW_A + 2;
  wire [BW_A-1:0] a; wire [BW_B-1:0] b;
  generate if (SWAP) begin : s assign a = in1; assign b = in0; end else begin : k assign a = in0; assign b = in1; end endgenerate
  wire signed [WH-1:0] as = {{2{SIGNED_A == 1 ? a[BW_A-1] : 1'b0}}, a};
  wire signed [WH-1:0] h [0:BW_B];
  wire [BW_B-1:0] low;
  assign h[0] = {WH{1'b0}};
  genvar j;
  generate
    for (j = 0; j < BW_B; j = j + 1) begin : row
      wire signed [WH-1:0] pp = as & {WH{b[j]}};
      wire signed [WH-1:0] t;
      if (SIGNED_B == 1 && j == BW_B - 1) begin : neg
        assign t = h[j] - pp;
      end else begin : posi
        assign t = h[j] + pp;
      end
      assign low[j] = t[0];
      assign h[j + 1] = t >>> 1;
    end
  endgenerate
  // verilator lint_off UNUSEDSIGNAL
  wire [W+1:0] full = {h[BW_B], low};  // WH + BW_B = W + 2 bits
  // verilator lint_on UNUSEDSIGNAL
  assign out = full[BW_OUT-1:0];
endmodule
