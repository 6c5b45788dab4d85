using Istio.AppSwitch.Ax;

return AxCommandLine.Run(args, Console.Out, Console.Error);
