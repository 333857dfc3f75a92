module top (input clk, input [67:0] lane_inp, output [16:0] lane_out, output reg [7:0] count);
    top_lane u_lane (.clk(clk), .model_inp(lane_inp), .model_out(lane_out));
    always @(posedge clk) count <= count + 8'd1;
endmodule
