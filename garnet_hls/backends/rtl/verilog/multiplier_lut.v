`timescale 1ns / 1ps

// A variable x variable product built in fabric (garnet-hls, Multipliers: lut). The same ports, parameters
// and result as da4ml's `multiplier` (the low BW_OUT bits of the exact product), written as the sum of the
// partial products of the narrower operand: Yosys gathers the sum into one $macc and builds it as a
// carry-save tree with one final adder; use_dsp = "no" keeps Vivado from mapping it onto a DSP48E2.
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

  localparam SWAP = BW_INPUT1 > BW_INPUT0;  // the partial products are taken over the narrower operand
  localparam BW_A = SWAP ? BW_INPUT1 : BW_INPUT0;
  localparam BW_B = SWAP ? BW_INPUT0 : BW_INPUT1;
  localparam SIGNED_A = SWAP ? SIGNED1 : SIGNED0;
  localparam SIGNED_B = SWAP ? SIGNED0 : SIGNED1;
  localparam BW_BUF = BW_INPUT0 + BW_INPUT1;

  wire [BW_A-1:0] a;
  wire [BW_B-1:0] b;
  generate
    if (SWAP) begin : swapped
      assign a = in1;
      assign b = in0;
    end else begin : kept
      assign a = in0;
      assign b = in1;
    end
  endgenerate
  // the wide operand sign- (or zero-) extended to the product's width
  wire [BW_BUF-1:0] a_ext = {{BW_B{SIGNED_A == 1 ? a[BW_A-1] : 1'b0}}, a};

  // verilator lint_off UNUSEDSIGNAL
  reg [BW_BUF-1:0] acc;
  // verilator lint_on UNUSEDSIGNAL
  integer j;
  always @* begin
    acc = {BW_BUF{1'b0}};
    for (j = 0; j < BW_B; j = j + 1) begin
      if (SIGNED_B == 1 && j == BW_B - 1)
        acc = acc - ((a_ext & {BW_BUF{b[j]}}) << j);  // two's complement: the sign bit weighs -2^j
      else
        acc = acc + ((a_ext & {BW_BUF{b[j]}}) << j);
    end
  end

  assign out[BW_OUT-1:0] = acc[BW_OUT-1:0];
endmodule
