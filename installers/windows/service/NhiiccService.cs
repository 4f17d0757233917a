// nhiicc-service.exe: the Windows service process for nhiicc.
//
// The Service Control Manager only talks to processes that speak its protocol
// (StartServiceCtrlDispatcher); node.exe does not, so a ServiceInstall on
// node.exe directly would time out at start. This wrapper is that protocol and
// nothing else: it starts "<dir>\node\node.exe <dir>\app\nhiicc.mjs serve",
// appends the child's output to %ProgramData%\nhiicc\logs\nhiicc.log, and
// exits with an error when the child dies so the SCM's failure actions
// (nhiicc.wxs: restart) take over. WinSW or node-windows would do the same
// with a downloaded third-party binary; this compiles with csc.exe from the
// .NET Framework 4 that every supported Windows ships, so nothing is fetched.
using System;
using System.Diagnostics;
using System.IO;
using System.ServiceProcess;

public sealed class NhiiccService : ServiceBase
{
    private Process child;
    private StreamWriter log;
    private volatile bool stopping;

    public NhiiccService()
    {
        ServiceName = "nhiicc";
        CanStop = true;
        CanShutdown = true;
        AutoLog = true;
    }

    public static void Main(string[] args)
    {
        ServiceBase.Run(new NhiiccService());
    }

    protected override void OnStart(string[] args)
    {
        string dir = AppDomain.CurrentDomain.BaseDirectory;
        string data = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), "nhiicc");
        Directory.CreateDirectory(Path.Combine(data, "logs"));
        log = new StreamWriter(Path.Combine(data, "logs", "nhiicc.log"), true);
        log.AutoFlush = true;

        var psi = new ProcessStartInfo(Path.Combine(dir, "node", "node.exe"));
        psi.Arguments = "--max-semi-space-size=1 --heap-growing-percent=50 --no-maglev \"" + Path.Combine(dir, "app", "nhiicc.mjs") + "\" serve --config-dir \"" + data + "\"";
        psi.WorkingDirectory = Path.Combine(dir, "app");
        psi.UseShellExecute = false;
        psi.CreateNoWindow = true;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.EnvironmentVariables["NODE_ENV"] = "production";
        psi.EnvironmentVariables["NHIICC_CONFIG_DIR"] = data;

        child = new Process();
        child.StartInfo = psi;
        child.EnableRaisingEvents = true;
        child.OutputDataReceived += (s, e) => { if (e.Data != null) Write(e.Data); };
        child.ErrorDataReceived += (s, e) => { if (e.Data != null) Write(e.Data); };
        child.Exited += (s, e) =>
        {
            if (stopping) return;
            Write("nhiicc-service: node exited with code " + child.ExitCode + "; the service stops so Windows restarts it");
            ExitCode = 1;
            Environment.Exit(1);
        };
        child.Start();
        child.BeginOutputReadLine();
        child.BeginErrorReadLine();
    }

    protected override void OnStop()
    {
        stopping = true;
        try
        {
            if (child != null && !child.HasExited)
            {
                child.Kill();
                child.WaitForExit(10000);
            }
        }
        catch (InvalidOperationException) { }
        if (log != null) log.Dispose();
    }

    protected override void OnShutdown()
    {
        OnStop();
    }

    private void Write(string line)
    {
        lock (this)
        {
            if (log != null) log.WriteLine(line);
        }
    }
}
